# Shortcuts for people who like make; the README's commands need only Python.
.PHONY: serve test bench loadtest

serve:
	python3 dev.py serve

test:
	python3 dev.py test

# Benchmarks (checkout, draw, CSV export, public pages) on PostgreSQL (DATABASE_URL, default
# fairdraw_bench; the pages one: fairdraw_bench_pages under gunicorn, with Redis db 15):
# `make bench`, or e.g. `make bench BENCH_ARGS="checkout --buyers 32 --purchases 50"`
# (checkout: one process a buyer; `--processes 1` for threads of one process),
# `make bench BENCH_ARGS="pages --pages-uncached"` (the pages with the cache off as well).
bench:
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fairdraw_bench} .venv/bin/python bench/run.py $(BENCH_ARGS)

# Launch day: Locust's customers (headless, bounded) against gunicorn, PostgreSQL, Redis and a
# real Celery worker, then SQL checks that nothing was oversold or doubled (bench/loadtest.py;
# database fairdraw_loadtest, recreated; Redis dbs 6 and 7, flushed). Defaults: 100 users, 60 s;
# e.g. `make loadtest LOADTEST_ARGS="--users 200 --run-time 5m"`.
LOADTEST_ARGS ?= --users 100 --run-time 60s
loadtest:
	.venv/bin/python bench/loadtest.py $(LOADTEST_ARGS)
