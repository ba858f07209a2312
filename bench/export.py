"""The tickets CSV export at a million rows: throughput and peak memory.

A competition gets `--export-rows` tickets (default 1,000,000) straight from SQL
(generate_series, spread over 1,000 customers; made once and reused on later runs). Then a
child process streams the CSV through `tickets.export.tickets_csv`, the function behind the
admin's "Export CSV" and `manage.py export_tickets`, into a sink that only counts bytes:
- "command": the queryset `export_tickets` uses (one competition, by number);
- "admin": the queryset of the admin ticket list filtered to that competition, built by the
  real `TicketAdmin` changelist (its joins, search and ordering).
Each runs in a fresh process, so its peak resident memory (ru_maxrss) is the export's own,
Django included. It must stay under `--export-max-mb` (default 150).

    python bench/run.py export [--export-rows 1000000]
    python bench/export.py     (on its own; DATABASE_URL, default the fairdraw_bench_export db)
"""

import json
import os
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fairdraw_bench_export"
SLUG = "bench-export-{rows}"
CUSTOMERS = 1000


def add_arguments(parser) -> None:
    group = parser.add_argument_group("export")
    group.add_argument("--export-rows", type=int, default=1_000_000, help="tickets to export")
    group.add_argument("--export-max-mb", type=float, default=150.0, help="peak memory limit")


def _competition(rows: int):
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from competitions.models import Competition

    slug = SLUG.format(rows=rows)
    existing = Competition.objects.filter(slug=slug).first()
    if existing and existing.tickets.count() == rows:
        return existing, 0.0
    started = time.perf_counter()
    if existing:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM tickets_ticket WHERE competition_id = %s", [existing.pk])
        existing.delete()
    now = timezone.now()
    competition = Competition.objects.create(
        title=f"Bench export {rows:,}",
        slug=slug,
        prize_description="Benchmark",
        prize_value=Decimal("1000"),
        ticket_price=Decimal("0.99"),
        max_tickets=rows,
        max_tickets_per_user=rows,
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=7),
        draw_at=now + timedelta(days=7),
        question="2 + 2?",
    )
    users = User.objects.bulk_create(
        User(
            email=f"bench-export-{rows}-{i}@bench.example",
            first_name="Customer",
            last_name=f"Number {i}",
            date_of_birth=date(1990, 1, 1),
        )
        for i in range(CUSTOMERS)
    )
    first_user = min(u.pk for u in users)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tickets_ticket
                (competition_id, number, user_id, status, source, purchased_at)
            SELECT %s, g, %s + (g %% %s), 'active', 'postal',
                   now() - make_interval(secs => g)
            FROM generate_series(1, %s) AS g
            """,
            [competition.pk, first_user, CUSTOMERS, rows],
        )
        cursor.execute("ANALYZE tickets_ticket")
    Competition.objects.filter(pk=competition.pk).update(tickets_sold=rows)
    return competition, time.perf_counter() - started


def _child(mode: str, competition_id: int) -> None:
    """Stream one export into a byte-counting sink and report (runs in its own process)."""
    import django

    django.setup()
    from django.contrib import admin
    from django.test import RequestFactory

    from accounts.models import User
    from tickets.export import tickets_csv
    from tickets.models import Ticket

    if mode == "admin":
        request = RequestFactory().get("/", {"competition__id__exact": str(competition_id)})
        request.user = User(is_staff=True, is_superuser=True, is_active=True)
        model_admin = admin.site._registry[Ticket]
        queryset = model_admin.get_changelist_instance(request).get_queryset(request)
    else:
        queryset = Ticket.objects.filter(competition_id=competition_id).order_by("number", "id")
    started = time.perf_counter()
    size = lines = 0
    for text in tickets_csv(queryset):
        size += len(text)
        lines += text.count("\n")
    seconds = time.perf_counter() - started
    peak_kib = _peak_rss_kib()
    print(json.dumps({"rows": lines - 1, "bytes": size, "seconds": seconds, "peak_kib": peak_kib}))


def _peak_rss_kib() -> int:
    """This process's own peak resident memory. Linux's VmHWM belongs to the process image,
    whereas ru_maxrss also keeps the parent's size at fork time across exec (a bench run
    that has grown would otherwise be charged to the export)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run(args) -> dict:
    from django.db import connection

    rows = args.export_rows
    competition, made_in = _competition(rows)
    if made_in:
        print(f"made {rows:,} tickets in {made_in:.1f}s")
    connection.close()
    ok = True
    results = {}
    for mode in ("command", "admin"):
        child = subprocess.run(
            [sys.executable, __file__, "--child", mode, str(competition.pk)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            check=False,
        )
        if child.returncode:
            print(child.stderr)
            return {"ok": False}
        result = json.loads(child.stdout.strip().splitlines()[-1])
        peak_mb = result["peak_kib"] / 1024
        good = result["rows"] == rows and peak_mb < args.export_max_mb
        ok &= good
        results[mode] = result
        print(
            f"{mode:8} {result['rows']:>10,} rows  {result['bytes'] / 2**20:7.1f} MiB CSV  "
            f"{result['seconds']:6.1f}s  {result['rows'] / result['seconds']:>9,.0f} rows/s  "
            f"peak RSS {peak_mb:6.1f} MB (limit {args.export_max_mb:.0f})  "
            f"{'ok' if good else 'FAIL'}"
        )
    return {"ok": ok, **results}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], int(sys.argv[3]))
    else:
        os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
        from bench import run as runner

        runner.main(["export", *sys.argv[1:]])
