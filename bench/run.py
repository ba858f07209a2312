"""Benchmarks: `python bench/run.py [name ...] [--options]` (default: all). One module per
benchmark in this folder (checkout.py, ...), each with `add_arguments(parser)` and
`run(args) -> dict`. They need PostgreSQL: DATABASE_URL, default the fairdraw_bench database
(pages.py uses its own, fairdraw_bench_pages, and Redis db 15)."""

import argparse
import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ["checkout", "draw", "export", "pages"]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fairdraw_bench"


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # As in production: with DEBUG on, Django keeps every statement's SQL in
    # connection.queries, CPU that neither production nor the raw-SQL baselines spend.
    os.environ.setdefault("DJANGO_DEBUG", "false")
    # As in production: a request publishes nothing to the broker; beat's relay queues the
    # messages committed to the outbox (config/settings/base.py).
    os.environ.setdefault("NOTIFICATIONS_DISPATCH", "relay")
    _create_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_database(url: str) -> None:
    if not url.startswith("postgres"):
        sys.exit("The benchmarks need PostgreSQL: set DATABASE_URL=postgres://...")
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    modules = {name: importlib.import_module(f"bench.{name}") for name in BENCHMARKS}
    for module in modules.values():
        module.add_arguments(parser)
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    setup_django()
    failed = False
    for name in args.names or BENCHMARKS:
        print(f"== {name}")
        result = modules[name].run(args)
        failed |= not result.get("ok", True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
