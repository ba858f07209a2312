"""Checkout under load: N buyers at once on one hot competition, reserve + pay each time.

The Django path (tickets.services.order_reserve + order_fulfil, the same calls checkout and
the webhook make) runs next to a raw-SQL baseline doing the same statements with psycopg
(lock the competition row, check quota and limit, probe random numbers, insert the order and
its reserved tickets, bump the counter; then lock again, turn them active, bump the counters,
mark the order paid) on a second competition in the same database, in the same run. Both are
checked with SQL afterwards: oversold and duplicate numbers must be 0.

Each buyer is a forked process of its own by default, as each checkout is a web worker's on
launch day. With `--processes N` the buyers are shared out over N processes, as threads; with
`--processes 1` all are threads of this one, where Python runs one at a time (the GIL), so a
buyer holding the competition's lock may wait for the interpreter while others run. Buyers start
connected to the database, on both sides (`_race_threads`)."""

import multiprocessing
import os
import random
import statistics
import threading
import time
from datetime import UTC, date, datetime

COMPETITION_TICKETS = 1_000_000


def add_arguments(parser) -> None:
    group = parser.add_argument_group("checkout")
    group.add_argument("--buyers", type=int, default=64, help="concurrent buyers (default 64)")
    group.add_argument("--purchases", type=int, default=10, help="purchases per buyer")
    group.add_argument("--max-quantity", type=int, default=5, help="lucky dips per purchase 1..N")
    group.add_argument(
        "--cold",
        action="store_true",
        help="buyers start without a purchase of their own first (default: each makes one,"
        " unmeasured, as a web worker that has been serving has)",
    )
    group.add_argument(
        "--processes",
        type=int,
        default=0,
        help="share the buyers out over N processes (default 0: one process a buyer; 1: all"
        " threads of this one)",
    )


def _percentile(values, p) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def _setup(label: str, buyers: int):
    from allauth.account.models import EmailAddress

    from accounts.models import User
    from bench.common import bench_competition

    competition, answer = bench_competition(label=label, max_tickets=COMPETITION_TICKETS)
    stamp = competition.slug
    users = User.objects.bulk_create(
        User(email=f"{stamp}-{i}@bench.example", first_name="Bench", date_of_birth=date(1990, 1, 1))
        for i in range(buyers)
    )
    # Checkout needs a confirmed e-mail address (tickets.services.rules.check_eligible).
    EmailAddress.objects.bulk_create(
        EmailAddress(user=user, email=user.email, primary=True, verified=True) for user in users
    )
    return competition, answer, users


def _process_count(buyers: int, processes: int) -> int:
    """How many processes `--processes` makes of `buyers` buyers (0: one a buyer)."""
    return min(processes, buyers) if processes > 0 else buyers


def _race(buyers: int, job, processes: int = 1):
    """Run job(buyer_index, purchase_rng) per buyer, each in its own thread, the threads shared
    out over `processes` processes; return latencies, tickets bought, errors and wall time."""
    from django.db import connections

    processes = _process_count(buyers, processes)
    if processes == 1:
        return _race_threads(range(buyers), job)
    shares = [range(buyers)[p::processes] for p in range(processes)]
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(processes + 1)
    results = context.Queue()
    connections.close_all()  # each process opens its own
    children = [
        context.Process(target=_race_child, args=(share, job, ready, results)) for share in shares
    ]
    for child in children:
        child.start()
    ready.wait()
    start = time.perf_counter()
    latencies, bought, errors, finished, cpu = [], 0, [], start, [0.0, 0.0]
    for _ in children:
        mine, got, errs, ended, (client, server) = results.get()
        latencies += mine
        bought += got
        errors += errs
        finished = max(finished, ended)
        cpu = [cpu[0] + client, cpu[1] + server]
    for child in children:
        child.join()
    return latencies, bought, errors, finished - start, tuple(cpu)


def _race_child(indexes, job, ready, results) -> None:
    latencies, bought, errors, _, cpu = _race_threads(indexes, job, ready=ready)
    results.put((latencies, bought, errors, time.perf_counter(), cpu))


def _race_threads(indexes, job, ready=None):
    """The buyers `indexes` as threads of this process, started together once all are ready
    (and after `ready`, the other processes' barrier, if any).

    Each job's first word says it is ready, with its database backend's CPU seconds so far:
    connected and, unless `--cold`, warmed by one purchase of its own, on both sides alike.
    Launch day meets web workers that have been serving for a while and keep their database
    connection (DATABASE_CONN_MAX_AGE), not processes making their first sale; `--cold`
    measures those."""
    from django.db import connection

    connected = threading.Barrier(len(indexes) + 1)
    barrier = threading.Barrier(len(indexes) + 1)
    latencies: list[float] = []
    bought = [0]
    errors: list[str] = []
    server = [0.0]
    lock = threading.Lock()

    def worker(i):
        rng = random.Random(i)
        mine, got, errs, used = [], 0, [], 0.0
        try:
            purchases = job(i, rng)
            try:
                _, before = next(purchases)  # ready (its first word), before the start
            finally:
                connected.wait()
            barrier.wait()
            for n, started in purchases:
                if n is None:  # the job's last word: its database backend's CPU seconds
                    used = started - before
                    continue
                mine.append(time.perf_counter() - started)
                got += n
        except Exception as exc:
            errs.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)
                bought[0] += got
                errors.extend(errs)
                server[0] += used

    threads = [threading.Thread(target=worker, args=(i,)) for i in indexes]
    for t in threads:
        t.start()
    connected.wait()
    if ready is not None:
        ready.wait()
    barrier.wait()
    start, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    client = time.process_time() - cpu
    return latencies, bought[0], errors, time.perf_counter() - start, (client, server[0])


def _backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a PostgreSQL backend on this machine has used so far; 0 if
    it cannot be read (a database on another host)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _django_path(args, competition, answer, users):
    from tickets.exceptions import Busy
    from tickets.services import LineRequest, order_fulfil, order_reserve

    # One purchase before the buyers start, by a customer of its own: what a process does once
    # (compiling the confirmation e-mail's templates, Celery's first message, lazy imports:
    # 0.2 s of CPU) is then done in the parent, as in a web worker that has served a request,
    # instead of in each of the forked buyers during the measured run. The baseline has no
    # such first-time work. Its ticket is checked with the others afterwards.
    warm_up = users.pop()
    order = order_reserve(user=warm_up, lines=[LineRequest(competition.pk, answer.pk, quantity=1)])
    order_fulfil(order_id=order.pk, payment_intent_id=f"pi_bench_{order.pk}")

    def buy(i, quantity):
        order = order_reserve(
            user=users[i], lines=[LineRequest(competition.pk, answer.pk, quantity=quantity)]
        )
        order_fulfil(order_id=order.pk, payment_intent_id=f"pi_bench_{order.pk}")

    def job(i, rng):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        if not args.cold:
            buy(i, 1)
        yield "ready", _backend_cpu(pid)
        for _ in range(args.purchases):
            quantity = rng.randint(1, args.max_quantity)
            started = time.perf_counter()
            try:
                buy(i, quantity)
            except Busy:
                continue
            yield quantity, started
        yield None, _backend_cpu(pid)

    return _race(args.buyers, job, args.processes)


def _raw_path(args, competition, answer, users):
    import psycopg
    from django.conf import settings
    from django.db import connection

    dsn = _dsn(settings.DATABASES["default"])
    timeout_ms = int(settings.FAIRDRAW_LOCK_TIMEOUT_SECONDS * 1000)
    price = competition.ticket_price
    comp_id = competition.pk
    max_number = competition.max_tickets
    connection.close()

    def buy(conn, user_id, rng, quantity) -> None:
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = {timeout_ms}")
            sold, reserved, per_user, status, starts, ends = conn.execute(
                "SELECT tickets_sold, tickets_reserved, max_tickets_per_user, status,"
                " starts_at, ends_at FROM competitions_competition WHERE id = %s"
                " FOR UPDATE",
                [comp_id],
            ).fetchone()
            held = conn.execute(
                "SELECT count(*) FROM tickets_ticket WHERE competition_id = %s"
                " AND user_id = %s AND status IN ('active','invalid','reserved')",
                [comp_id, user_id],
            ).fetchone()[0]
            now = datetime.now(UTC)
            assert status == "active" and starts <= now < ends  # sales open
            assert max_number - sold - reserved >= quantity  # quota
            assert held + quantity <= per_user  # per-customer limit
            chosen: set[int] = set()
            while len(chosen) < quantity:
                candidates = list(
                    {rng.randint(1, max_number) for _ in range(quantity * 2 + 16)} - chosen
                )
                taken = {
                    r[0]
                    for r in conn.execute(
                        "SELECT number FROM tickets_ticket WHERE competition_id = %s"
                        " AND status IN ('active','invalid','reserved')"
                        " AND number = ANY(%s)",
                        [comp_id, candidates],
                    )
                }
                chosen.update([n for n in candidates if n not in taken][: quantity - len(chosen)])
            order_id = conn.execute(
                "INSERT INTO tickets_order (reference, user_id, status, currency, total,"
                " amount_refunded, reserved_until, stripe_payment_intent_id, card_funding,"
                " created_at, updated_at) VALUES (%s, %s, 'pending', 'GBP', %s, 0,"
                " now() + interval '15 minutes', '', '', now(), now()) RETURNING id",
                [
                    f"RAW-{user_id}-{time.perf_counter_ns() % 10**9}"[:16],
                    user_id,
                    price * quantity,
                ],
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO tickets_orderline (order_id, competition_id, quantity,"
                " chosen_numbers, answer_id, unit_price, line_total)"
                " VALUES (%s, %s, %s, '[]', %s, %s, %s)",
                [order_id, comp_id, quantity, answer.pk, price, price * quantity],
            )
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO tickets_ticket (competition_id, number, user_id, order_id,"
                    " status, source, purchased_at) VALUES (%s, %s, %s, %s, 'reserved',"
                    " 'paid', now())",
                    [(comp_id, n, user_id, order_id) for n in chosen],
                )
            conn.execute(
                "UPDATE competitions_competition SET tickets_reserved = tickets_reserved"
                " + %s, updated_at = now() WHERE id = %s",
                [quantity, comp_id],
            )
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = {timeout_ms}")
            conn.execute(
                "SELECT id FROM competitions_competition WHERE id = %s FOR UPDATE",
                [comp_id],
            )
            n = conn.execute(
                "UPDATE tickets_ticket SET status = 'active', purchased_at = now()"
                " WHERE order_id = %s AND status = 'reserved'",
                [order_id],
            ).rowcount
            conn.execute(
                "UPDATE competitions_competition SET tickets_sold = tickets_sold + %s,"
                " tickets_reserved = tickets_reserved - %s, updated_at = now()"
                " WHERE id = %s",
                [n, n, comp_id],
            )
            conn.execute(
                "UPDATE tickets_order SET status = 'paid', paid_at = now(),"
                " updated_at = now() WHERE id = %s AND status = 'pending'",
                [order_id],
            )

    def job(i, rng):
        user_id = users[i].pk
        with psycopg.connect(dsn) as conn:
            if not args.cold:
                buy(conn, user_id, rng, 1)
            yield "ready", _backend_cpu(conn.info.backend_pid)
            for _ in range(args.purchases):
                quantity = rng.randint(1, args.max_quantity)
                started = time.perf_counter()
                buy(conn, user_id, rng, quantity)
                yield quantity, started
            yield None, _backend_cpu(conn.info.backend_pid)

    return _race(args.buyers, job, args.processes)


def _dsn(db: dict) -> str:
    return (
        f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']}"
        f" user={db['USER']}" + (f" password={db['PASSWORD']}" if db.get("PASSWORD") else "")
    )


def _vacuum() -> None:
    """Bring the planner's statistics up to date and clear dead rows, as autovacuum would on a
    live server (it may be off on a test cluster, and earlier runs leave rows behind): otherwise
    plans depend on the bench database's history, not on the code measured."""
    from django.db import connection

    tables = ["accounts_user", "competitions_competition", "notifications_notification"]
    tables += ["tickets_order", "tickets_orderline", "tickets_ticket"]
    with connection.cursor() as cur:
        cur.execute(f"VACUUM ANALYZE {', '.join(tables)}")


def _check(competition) -> tuple[int, int]:
    """(oversold, duplicate numbers), measured in SQL."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT GREATEST(COUNT(*) - c.max_tickets, 0) + ABS(COUNT(*) -"
            " (c.tickets_sold + c.tickets_reserved))"
            " FROM competitions_competition c JOIN tickets_ticket t ON t.competition_id = c.id"
            " AND t.status IN ('active','invalid','reserved') WHERE c.id = %s"
            " GROUP BY c.max_tickets, c.tickets_sold, c.tickets_reserved",
            [competition.pk],
        )
        row = cur.fetchone()
        oversold = row[0] if row else 0
        cur.execute(
            "SELECT COUNT(*) FROM (SELECT number FROM tickets_ticket WHERE competition_id = %s"
            " AND status IN ('active','invalid','reserved') GROUP BY number"
            " HAVING COUNT(*) > 1) d",
            [competition.pk],
        )
        duplicates = cur.fetchone()[0]
    return oversold, duplicates


def _report(label, latencies, tickets, errors, wall, cpu, checks) -> dict:
    rate = tickets / wall if wall else 0.0
    p50 = statistics.median(latencies) * 1000 if latencies else 0.0
    p99 = _percentile(latencies, 99) * 1000 if latencies else 0.0
    # CPU per purchase: the buyers' processes, and their database backends (from /proc, when
    # PostgreSQL runs on this machine). Unlike wall-clock figures, these hardly move with
    # whatever else the machine is doing.
    client, server = (x * 1000 / len(latencies) if latencies else 0.0 for x in cpu)
    print(
        f"{label:<8} purchases={len(latencies):>5} tickets={tickets:>6} wall={wall:6.2f}s "
        f"tickets/s={rate:8.1f} p50={p50:7.1f}ms p99={p99:7.1f}ms "
        f"cpu/purchase={client:.1f}+{server:.1f}ms "
        f"oversold={checks[0]} duplicates={checks[1]} errors={len(errors)}"
    )
    for error in errors[:5]:
        print(f"         error: {error}")
    return {
        "rate": rate,
        "p50": p50,
        "p99": p99,
        "cpu": (client, server),
        "checks": checks,
        "errors": errors,
    }


def run(args) -> dict:
    from django.conf import settings

    print(
        f"database={settings.DATABASES['default']['NAME']} buyers={args.buyers} "
        f"purchases/buyer={args.purchases} lucky dips/purchase=1..{args.max_quantity} "
        f"competition={COMPETITION_TICKETS:,} tickets cpus={os.cpu_count()} "
        f"processes={_process_count(args.buyers, args.processes)}"
    )
    competition, answer, users = _setup("django", args.buyers + 1)  # + 1: the warm-up
    _vacuum()
    latencies, tickets, errors, wall, cpu = _django_path(args, competition, answer, users)
    django_result = _report("django", latencies, tickets, errors, wall, cpu, _check(competition))

    raw_competition, raw_answer, raw_users = _setup("raw", args.buyers)
    _vacuum()
    latencies, tickets, errors, wall, cpu = _raw_path(args, raw_competition, raw_answer, raw_users)
    raw_result = _report("raw-sql", latencies, tickets, errors, wall, cpu, _check(raw_competition))

    ratio = django_result["rate"] / raw_result["rate"] if raw_result["rate"] else 0.0
    print(f"ratio    django/raw tickets/s = {ratio:.2f}")
    ok = all(r["checks"] == (0, 0) and not r["errors"] for r in (django_result, raw_result))
    print("OK: nothing oversold, no number twice" if ok else "FAILED: see above")
    return {"ok": ok, "django": django_result, "raw": raw_result, "ratio": ratio}
