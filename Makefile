# Shortcuts for people who like make; the README's commands need only Python.
.PHONY: serve test bench

serve:
	python3 dev.py serve

test:
	python3 dev.py test

# Checkout benchmark on PostgreSQL (DATABASE_URL, default the fairdraw_bench database):
# `make bench`, or `make bench BENCH_ARGS="--buyers 32 --purchases 50"`.
bench:
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fairdraw_bench} .venv/bin/python bench/run.py $(BENCH_ARGS)
