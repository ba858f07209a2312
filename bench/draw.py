"""The draw at scale: freeze the entry ledger and draw, at 10k, 100k and 1M entries.

For each size a sold-out competition gets that many tickets straight from SQL
(generate_series; one in twenty with a wrong answer, so not every ticket is an entry), then:
- freeze: `draws.services.draw_freeze_ledger` (one streamed pass hashing the ledger);
- draw: `draws.services.draw_perform` (re-hash the frozen ledger and pick the winners in one
  streamed pass, create the winners, mark drawn, queue notifications);
- verify: `draws.verification.verify_draw` (what the public page and `verify_draw` run).
Time is wall-clock; "RSS +" is how far the process's peak resident memory rose during the
step (0 when it stayed under an earlier peak); "Python peak" is tracemalloc's peak for one
ledger pass, run separately because tracing slows Python down. Flat memory across sizes is
the point: nothing holds the ledger in memory.

    python bench/run.py draw [--draw-sizes 10000,100000,1000000]
    python bench/draw.py      (on its own; DATABASE_URL, default the fairdraw_bench database)
"""

import resource
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

DEFAULT_SIZES = "10000,100000,1000000"
PRIZES = 3


def add_arguments(parser) -> None:
    group = parser.add_argument_group("draw")
    group.add_argument(
        "--draw-sizes",
        default=DEFAULT_SIZES,
        help=f"comma-separated ticket counts (default {DEFAULT_SIZES})",
    )
    group.add_argument(
        "--draw-keep", action="store_true", help="keep the benchmark competitions afterwards"
    )


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _measure(func):
    rss = _rss_kib()
    started = time.perf_counter()
    result = func()
    return result, time.perf_counter() - started, (_rss_kib() - rss) / 1024


def _competition(size: int):
    from django.db import connection

    from accounts.models import User
    from bench.common import bench_competition
    from competitions.models import Competition

    competition, _ = bench_competition(label=f"draw-{size}", max_tickets=size, prizes=PRIZES)
    stamp = competition.slug
    user = User.objects.create(
        email=f"bench-draw-{stamp}@bench.example",
        first_name="Bench",
        date_of_birth=date(1990, 1, 1),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tickets_ticket
                (competition_id, number, user_id, status, source, purchased_at)
            SELECT %s, g, %s, CASE WHEN g %% 20 = 0 THEN 'invalid' ELSE 'active' END,
                   'postal', now()
            FROM generate_series(1, %s) AS g
            """,
            [competition.pk, user.pk, size],
        )
        cursor.execute("ANALYZE tickets_ticket")
    Competition.objects.filter(pk=competition.pk).update(tickets_sold=size)  # sold out: ended
    competition.refresh_from_db()
    return competition


def _cleanup(competition_ids) -> None:
    from django.db import connection

    if not competition_ids:
        return
    ids = list(competition_ids)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM winners_winner WHERE competition_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM draws_drawlogentry WHERE competition_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM draws_draw WHERE competition_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM tickets_ticket WHERE competition_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM competitions_prize WHERE competition_id = ANY(%s)", [ids])
        cursor.execute(
            "DELETE FROM competitions_answerchoice WHERE competition_id = ANY(%s)", [ids]
        )
        cursor.execute("DELETE FROM competitions_competition WHERE id = ANY(%s)", [ids])


def run(args) -> dict:
    from django.utils import timezone

    from config import celery_app
    from draws.models import Draw
    from draws.selectors import ledger_scan
    from draws.services import draw_freeze_ledger, draw_perform
    from draws.verification import all_ok, verify_draw

    # The draw queues notifications on commit; keep them off the dev broker's queue folder.
    saved_broker = celery_app.conf.broker_url
    celery_app.conf.broker_url = "memory://"
    sizes = [int(s) for s in str(args.draw_sizes).split(",") if s.strip()]
    made, rows, ok = [], [], True
    try:
        for size in sizes:
            started = time.perf_counter()
            competition = _competition(size)
            made.append(competition.pk)
            setup = time.perf_counter() - started
            now = timezone.now()

            frozen, freeze_s, freeze_rss = _measure(
                lambda c=competition, n=now: draw_freeze_ledger(competition=c, now=n)
            )
            draw, draw_s, draw_rss = _measure(
                lambda c=competition, n=now: draw_perform(
                    competition=c, mode=Draw.Mode.ADMIN, now=n + timedelta(seconds=1)
                )
            )
            checks, verify_s, _ = _measure(lambda d=draw: verify_draw(d))
            indexes = list(draw.winners.values_list("ledger_index", flat=True))
            tracemalloc.start()
            ledger_scan(competition.pk, pick=indexes)
            _, python_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()

            good = (
                draw.status == Draw.Status.COMPLETED
                and frozen.entry_count == size - size // 20
                and draw.winners.count() == PRIZES
                and all_ok(checks)
            )
            ok &= good
            rows.append(
                (size, frozen.entry_count, setup, freeze_s, freeze_rss, draw_s, draw_rss,
                 verify_s, python_peak / 1024 / 1024, good)
            )  # fmt: skip
    finally:
        celery_app.conf.broker_url = saved_broker
        if not getattr(args, "draw_keep", False):
            _cleanup(made)

    print(
        f"{'tickets':>10} {'entries':>10} {'insert s':>9} {'freeze s':>9} {'RSS +MiB':>9} "
        f"{'draw s':>8} {'RSS +MiB':>9} {'verify s':>9} {'Py peak MiB':>12}  ok"
    )
    for size, entries, setup, fs, fr, ds, dr, vs, peak, good in rows:
        print(
            f"{size:>10,} {entries:>10,} {setup:>9.2f} {fs:>9.2f} {fr:>9.1f} {ds:>8.2f} "
            f"{dr:>9.1f} {vs:>9.2f} {peak:>12.2f}  {'yes' if good else 'NO'}"
        )
    return {"ok": ok, "rows": rows}


def main(argv=None) -> None:
    import argparse

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from bench.run import setup_django

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    setup_django()
    sys.exit(0 if run(args)["ok"] else 1)


if __name__ == "__main__":
    main()
