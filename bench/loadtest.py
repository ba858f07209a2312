"""Launch day, simulated: `make loadtest` (or `.venv/bin/python bench/loadtest.py --help`).

1. A fresh PostgreSQL database (LOADTEST_DATABASE_URL, default fairdraw_loadtest: dropped and
   created, then migrated) and Redis databases 6 (cache) and 7 (Celery broker), flushed.
2. The shop, made with the real services: `--competitions` on sale (100,000 tickets each) and
   one small "hot" one (`--hot-tickets`) that takes `--hot-share` of the buyers, so it sells out
   under load; `--customers` accounts (default: one per simulated user) registered with
   `accounts.services.user_register`, their e-mail confirmed with `user_email_verify` and a
   £500 monthly limit set (`spend_limit_set`), so the rules let them buy all run long.
3. gunicorn (`--workers` sync workers) and a Celery worker with beat (`--worker-concurrency`),
   both with `config.settings.loadtest` (why those settings: its docstring), logs in var/loadtest/.
4. Locust, headless, `--users` customers spawned at `--spawn-rate` a second for `--run-time`
   (bench/locustfile.py: log in, browse, open a competition, add to basket, check out, pay
   through the dev gateway and the real webhook, the webhook again, your tickets).
5. gunicorn and the worker stopped (the worker first finishes what is queued), then the report:
   per step the requests, failures, requests/s and the 50th/95th/99th percentile in ms, then
   SQL checks that nothing was oversold or issued twice.

Exits non-zero when a request failed or a check found something.
"""

import argparse
import csv
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pages import _free_port, _get  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fairdraw_loadtest"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
REDIS_DBS = {"cache": 6, "broker": 7}
WORK_DIR = ROOT / "var" / "loadtest"
PASSWORD = "launch-day-Loadtest-2025"
WEBHOOK_SECRET = "whsec_fairdraw_loadtest"
STEPS = [
    "log in (page)",
    "log in",
    "browse home",
    "browse competitions",
    "open competition",
    "add to basket",
    "checkout",
    "start checkout",
    "pay",
    "webhook",
    "your tickets",
    "remove from basket",
]


def add_arguments(parser) -> None:
    parser.add_argument("--users", type=int, default=100, help="simulated customers")
    parser.add_argument("--spawn-rate", type=float, default=20, help="customers started a second")
    parser.add_argument("--run-time", default="60s", help="Locust's -t (e.g. 60s, 5m)")
    parser.add_argument("--pacing", type=float, default=40, help="seconds between purchases")
    parser.add_argument("--customers", type=int, default=0, help="accounts (default: --users)")
    parser.add_argument("--competitions", type=int, default=4, help="large ones on sale")
    parser.add_argument("--hot-tickets", type=int, default=40, help="the hot one's tickets")
    parser.add_argument("--hot-share", type=float, default=0.5, help="buyers who want it")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery processes")
    parser.add_argument(
        "--production-hasher",
        action="store_true",
        help="hash passwords as production does (PBKDF2, ~0.6 s of CPU a log-in); default: "
        "the test settings' fast hasher (config/settings/loadtest.py says why)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LOADTEST_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database, dropped and created (LOADTEST_DATABASE_URL)",
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("LOADTEST_REDIS", DEFAULT_REDIS),
        help="Redis server; databases 6 (cache) and 7 (broker) are flushed (LOADTEST_REDIS)",
    )


def _environment(args) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.loadtest",
        "DATABASE_URL": args.database_url,
        "CACHE_URL": f"{args.redis}/{REDIS_DBS['cache']}",
        "CELERY_BROKER_URL": f"{args.redis}/{REDIS_DBS['broker']}",
        "STRIPE_SECRET_KEY": "",  # the dev gateway
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MEDIA_ROOT": str(WORK_DIR / "media"),
        "LOG_LEVEL": os.environ.get("LOADTEST_LOG_LEVEL", "INFO"),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "LOADTEST_PRODUCTION_HASHER": "1" if args.production_hasher else "",
    }


# --- the shop (a child process with the load-test settings) ------------------------------------


def prepare(plan_path: str, competitions: int, hot_tickets: int, customers: int) -> None:
    """Migrate, make the competitions and the customers, write the plan Locust reads."""
    import django

    django.setup()
    from django.core.management import call_command

    from bench.common import bench_competition

    call_command("migrate", verbosity=0)
    shop = []
    for i in range(competitions + 1):
        hot = i == competitions
        competition, answer = bench_competition(
            label="hot" if hot else f"launch-{i}",
            max_tickets=hot_tickets if hot else 100_000,
            is_featured=True,
            summary="A load-test prize.",
        )
        shop.append(
            {
                "id": competition.pk,
                "slug": competition.slug,
                "title": competition.title,
                "answer": answer.pk,
                "price_pence": int(competition.ticket_price * 100),
                "hot": hot,
            }
        )
    # A password hash costs production's PBKDF2 rounds (most of a second): one process per CPU.
    from django.db import connections

    connections.close_all()
    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
        accounts = pool.map(_customer, range(customers))
    Path(plan_path).write_text(
        json.dumps(
            {
                "competitions": shop,
                "customers": accounts,
                "password": PASSWORD,
                "webhook_secret": WEBHOOK_SECRET,
            },
            indent=1,
        )
    )


def _customer(i: int) -> dict:
    """One customer, as sign-up and the confirmation link would leave them, with a limit."""
    from datetime import date
    from decimal import Decimal

    from accounts.services import user_email_verify, user_register
    from responsible_play.limits import spend_limit_set

    user = user_register(
        email=f"customer{i:04d}@loadtest.fairdraw.example",
        password=PASSWORD,
        first_name="Load",
        last_name=f"Tester {i}",
        date_of_birth=date(1990, 1, 1),
        phone=f"07700 9{i:05d}",
    )
    user_email_verify(user=user)
    spend_limit_set(user=user, monthly_limit=Decimal("500"))
    return {"email": user.email}


# --- the processes ------------------------------------------------------------------------------


def _fresh_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _start(name: str, command: list[str], env: dict) -> subprocess.Popen:
    log = (WORK_DIR / f"{name}.log").open("w")
    try:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its children
        )
    finally:
        log.close()


def _stop(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_until(what: str, ready, processes: list[subprocess.Popen], timeout=60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready; see the logs in {WORK_DIR}")
        time.sleep(0.25)


def _answers(port: int, path: str) -> bool:
    try:
        return _get(port, path)[0] == 200
    except OSError:
        return False


def _drain(broker_url: str, timeout: float = 60) -> int:
    """Wait for the worker to empty the queue (the messages the purchases queued)."""
    import redis

    client = redis.Redis.from_url(broker_url)
    deadline = time.monotonic() + timeout
    while (left := client.llen("celery")) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


# --- the report ---------------------------------------------------------------------------------


def _stats(prefix: Path) -> list[dict]:
    with open(f"{prefix}_stats.csv", newline="") as f:
        return list(csv.DictReader(f))


def _ms(row: dict, key: str) -> str:
    value = row.get(key, "N/A")
    return "-" if value in ("N/A", "", None) else f"{float(value):.0f}"


def report(prefix: Path, seconds: float) -> int:
    """Print the per-step table; returns the number of failed requests."""
    rows = _stats(prefix)
    order = {name: i for i, name in enumerate(STEPS)}
    steps = sorted(
        (r for r in rows if r["Name"] != "Aggregated"),
        key=lambda r: (r["Type"] in ("outcome", "check"), order.get(r["Name"], 99), r["Name"]),
    )
    total = next(r for r in rows if r["Name"] == "Aggregated")
    header = (
        f"{'step':<30} {'requests':>8} {'failures':>8} {'req/s':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    )
    print(header)
    print("-" * len(header))
    requests = failures = 0
    for row in steps:
        name = row["Name"] if row["Type"] in ("GET", "POST") else f"({row['Type']}) {row['Name']}"
        count, failed = int(row["Request Count"]), int(row["Failure Count"])
        failures += failed
        if row["Type"] not in ("GET", "POST"):
            print(f"{name:<30} {count:>8} {failed:>8}")
            continue
        requests += count
        print(
            f"{name:<30} {count:>8} {failed:>8} {float(row['Requests/s']):>7.1f} "
            f"{_ms(row, '50%'):>7} {_ms(row, '95%'):>7} {_ms(row, '99%'):>7} "
            f"{_ms(row, 'Max Response Time'):>7}"
        )
    print("-" * len(header))
    print(
        f"{'all requests':<30} {requests:>8} {failures:>8} {requests / seconds:>7.1f} "
        f"{_ms(total, '50%'):>7} {_ms(total, '95%'):>7} {_ms(total, '99%'):>7} "
        f"{_ms(total, 'Max Response Time'):>7}"
    )
    failure_file = Path(f"{prefix}_failures.csv")
    if failures and failure_file.exists():
        print("\nFailures (Locust's failures.csv):")
        with failure_file.open(newline="") as f:
            for row in csv.DictReader(f):
                print(f"  {row['Occurrences']:>5} x {row['Name']}: {row['Error'][:160]}")
    exceptions = Path(f"{prefix}_exceptions.csv")
    if exceptions.exists():
        with exceptions.open(newline="") as f:
            for row in csv.DictReader(f):
                failures += int(row["Count"])
                print(f"  {row['Count']:>5} x exception in the locustfile: {row['Message'][:160]}")
    return failures


# Each query returns the offending rows; an empty answer is a pass.
CHECKS = [
    (
        "no competition oversold (sold + reserved <= max_tickets)",
        """SELECT id, tickets_sold, tickets_reserved, max_tickets FROM competitions_competition
           WHERE tickets_sold + tickets_reserved > max_tickets""",
    ),
    (
        "no number held twice in a competition (live or reserved tickets)",
        """SELECT competition_id, number, count(*) FROM tickets_ticket
           WHERE status IN ('active', 'invalid', 'reserved')
           GROUP BY competition_id, number HAVING count(*) > 1""",
    ),
    (
        "counters match the ticket rows (sold, reserved)",
        """SELECT c.id, c.tickets_sold, c.tickets_reserved,
                  count(t.id) FILTER (WHERE t.status IN ('active', 'invalid')),
                  count(t.id) FILTER (WHERE t.status = 'reserved')
           FROM competitions_competition c LEFT JOIN tickets_ticket t ON t.competition_id = c.id
           GROUP BY c.id
           HAVING c.tickets_sold <> count(t.id) FILTER (WHERE t.status IN ('active', 'invalid'))
               OR c.tickets_reserved <> count(t.id) FILTER (WHERE t.status = 'reserved')""",
    ),
    (
        "every paid order has exactly its tickets (none missing, none doubled)",
        """SELECT o.id, o.reference, lines.quantity, count(t.id)
           FROM tickets_order o
           JOIN (SELECT order_id, sum(quantity) AS quantity FROM tickets_orderline
                 GROUP BY order_id) lines ON lines.order_id = o.id
           LEFT JOIN tickets_ticket t ON t.order_id = o.id AND t.status IN ('active', 'invalid')
           WHERE o.status = 'paid'
           GROUP BY o.id, o.reference, lines.quantity
           HAVING count(t.id) <> lines.quantity""",
    ),
    (
        "no order has more ticket rows than it bought (any status)",
        """SELECT o.id, o.reference, lines.quantity, count(t.id)
           FROM tickets_order o
           JOIN (SELECT order_id, sum(quantity) AS quantity FROM tickets_orderline
                 GROUP BY order_id) lines ON lines.order_id = o.id
           JOIN tickets_ticket t ON t.order_id = o.id
           GROUP BY o.id, o.reference, lines.quantity
           HAVING count(t.id) > lines.quantity""",
    ),
    (
        "every paid order's total is what its lines cost",
        """SELECT o.id, o.reference, o.total, sum(l.line_total) FROM tickets_order o
           JOIN tickets_orderline l ON l.order_id = o.id
           WHERE o.status = 'paid' GROUP BY o.id HAVING o.total <> sum(l.line_total)""",
    ),
    (
        "no refunds (nothing was paid late or twice)",
        "SELECT id, order_id, reason, amount FROM tickets_refund",
    ),
]

SUMMARY = """
SELECT
  (SELECT count(*) FROM tickets_order WHERE status = 'paid'),
  (SELECT count(*) FROM tickets_order WHERE status = 'pending'),
  (SELECT count(*) FROM tickets_ticket WHERE status = 'active'),
  (SELECT count(*) FROM tickets_paymentevent),
  (SELECT count(*) FROM tickets_paymentevent WHERE outcome LIKE 'duplicate%%'
      OR outcome LIKE '%%already%%'),
  (SELECT count(*) FROM notifications_notification),
  (SELECT count(*) FROM notifications_notification WHERE status = 'sent')
"""


def sql_checks(url: str, hot_slug: str) -> int:
    """Run CHECKS on the database; print each with PASS/FAIL; returns how many failed."""
    import psycopg

    failed = 0
    with psycopg.connect(url) as conn:
        paid, pending, tickets, events, repeats, messages, sent = conn.execute(SUMMARY).fetchone()
        hot = conn.execute(
            "SELECT tickets_sold, tickets_reserved, max_tickets FROM competitions_competition"
            " WHERE slug = %s",
            [hot_slug],
        ).fetchone()
        print(
            f"Database: {paid} paid orders, {tickets} tickets issued, {pending} orders still "
            f"pending (customers stopped mid-checkout), {events} webhook events "
            f"({repeats} answered as already handled), {messages} notifications queued "
            f"({sent} sent by the worker); "
            f"hot competition: {hot[0]} sold + {hot[1]} reserved of {hot[2]}"
        )
        for title, query in CHECKS:
            rows = conn.execute(query).fetchall()
            failed += bool(rows)
            print(f"  {'FAIL' if rows else 'PASS'}  {title}" + (f": {rows[:5]}" if rows else ""))
    return failed


# --- the run ------------------------------------------------------------------------------------


def run(args) -> int:
    import redis

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    for old in WORK_DIR.glob("*.csv"):
        old.unlink()
    env = _environment(args)
    print(f"Database {args.database_url} (fresh), Redis {args.redis} dbs 6 and 7 (flushed)")
    _fresh_database(args.database_url)
    for db in REDIS_DBS.values():
        redis.Redis.from_url(f"{args.redis}/{db}").flushdb()
    plan_path = WORK_DIR / "plan.json"
    customers = args.customers or args.users
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable, str(Path(__file__)), "--prepare", str(plan_path),
            str(args.competitions), str(args.hot_tickets), str(customers),
        ],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    plan = {**json.loads(plan_path.read_text()), "hot_share": args.hot_share}
    plan_path.write_text(json.dumps(plan, indent=1))
    print(
        f"Seeded {len(plan['competitions'])} competitions and {customers} customers "
        f"in {time.monotonic() - started:.0f} s"
    )

    port = _free_port()
    bin_dir = Path(sys.executable).parent
    server = _start(
        "gunicorn",
        [
            str(bin_dir / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", str(args.workers), "--worker-class", "sync",
            "--timeout", "30", "--graceful-timeout", "30", "--backlog", "2048",
            "--worker-tmp-dir", "/dev/shm" if Path("/dev/shm").is_dir() else "/tmp",
        ],
        env,
    )  # fmt: skip
    worker = _start(
        "worker",
        [
            str(bin_dir / "celery"), "-A", "config", "worker", "--loglevel", "INFO",
            "--concurrency", str(args.worker_concurrency), "--without-heartbeat",
            "--without-gossip", "--without-mingle",
            # Beat too, as in production: the outbox relay queues the messages.
            "--beat", "--schedule", str(WORK_DIR / "celerybeat-schedule"),
        ],
        env,
    )  # fmt: skip
    prefix = WORK_DIR / "locust"
    try:
        _wait_until("gunicorn /readyz", lambda: _answers(port, "/readyz"), [server, worker])
        _wait_until(
            "the Celery worker",
            lambda: "ready." in (WORK_DIR / "worker.log").read_text(errors="replace"),
            [server, worker],
        )
        print(
            f"gunicorn ({args.workers} sync workers) on 127.0.0.1:{port}, Celery worker "
            f"(concurrency {args.worker_concurrency}), {os.cpu_count()} CPUs; Locust: "
            f"{args.users} users, {args.spawn_rate:g}/s, {args.run_time}, a purchase every "
            f"{args.pacing:g} s per user (first one at random within it); load average "
            f"{os.getloadavg()[0]:.1f} before the run; password hasher: "
            + ("production's PBKDF2" if args.production_hasher else "fast (test settings')")
        )
        locust_env = {**env, "LOADTEST_PLAN": str(plan_path), "LOADTEST_PACING": str(args.pacing)}
        with (WORK_DIR / "locust.log").open("w") as log:
            began = time.monotonic()
            subprocess.run(
                [
                    str(bin_dir / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"),
                    "--headless", "-u", str(args.users), "-r", f"{args.spawn_rate:g}",
                    "-t", args.run_time, "--host", f"http://127.0.0.1:{port}",
                    "--csv", str(prefix), "--only-summary", "--stop-timeout", "0",
                ],
                cwd=ROOT, env=locust_env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            seconds = time.monotonic() - began
            load = os.getloadavg()[0]
        left = _drain(env["CELERY_BROKER_URL"])
    finally:
        _stop(server)
        _stop(worker)
    print(f"\nLoad average {load:.1f} at the end of the run ({os.cpu_count()} CPUs)")
    failures = report(prefix, seconds)
    if left:
        print(f"\n{left} Celery messages still queued after a minute")
    print()
    failed_checks = sql_checks(
        args.database_url, next(c for c in plan["competitions"] if c["hot"])["slug"]
    )
    ok = not failures and not failed_checks
    print(
        f"\n{'PASS' if ok else 'FAIL'}: {failures} failed requests, {failed_checks} failed checks"
    )
    print(f"Logs: {WORK_DIR}/gunicorn.log, worker.log, locust.log")
    return 0 if ok else 1


def main() -> None:
    if sys.argv[1:2] == ["--prepare"]:
        plan, competitions, hot_tickets, customers = sys.argv[2:6]
        prepare(plan, int(competitions), int(hot_tickets), int(customers))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
