# Shortcuts for people who like make; the README's commands need only Python.
.PHONY: serve test bench

serve:
	python3 dev.py serve

test:
	python3 dev.py test

# Benchmarks (checkout, draw, CSV export, public pages) on PostgreSQL (DATABASE_URL, default
# fairdraw_bench; the pages one: fairdraw_bench_pages under gunicorn, with Redis db 15):
# `make bench`, or e.g. `make bench BENCH_ARGS="checkout --buyers 32 --purchases 50"`
# (`--processes 64`: one process per checkout buyer instead of threads),
# `make bench BENCH_ARGS="pages --pages-uncached"` (the pages with the cache off as well).
bench:
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fairdraw_bench} .venv/bin/python bench/run.py $(BENCH_ARGS)
