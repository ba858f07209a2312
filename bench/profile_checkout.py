"""CPU per purchase of the checkout bench's Django path, one process, no concurrency:
`python bench/profile_checkout.py [--purchases 200] [--profile reserve|fulfil|both]`.

Runs order_reserve + order_fulfil sequentially (as bench/checkout.py's buyers do) and prints
each half's client CPU (`time.process_time`) and the PostgreSQL backend's CPU (utime + stime of
`pg_backend_pid()` from /proc, so the database must run on this machine) per purchase, then,
with `--profile`, the top of a cProfile (timer: process time) of that half. DATABASE_URL as
for bench/run.py (default the fairdraw_bench database)."""

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import setup_django

TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--purchases", type=int, default=200)
    parser.add_argument("--buyers", type=int, default=20)
    parser.add_argument("--profile", choices=["reserve", "fulfil", "both"])
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (e.g. tottime)")
    args = parser.parse_args(argv)
    setup_django()

    from django.db import connection

    from bench.checkout import _setup, _vacuum
    from tickets.services import LineRequest, order_fulfil, order_reserve

    competition, answer, users = _setup("profile", args.buyers + 1)
    _vacuum()  # as the bench does: plans from fresh statistics, not the database's history
    warm_up = users.pop()
    order = order_reserve(user=warm_up, lines=[LineRequest(competition.pk, answer.pk, quantity=1)])
    order_fulfil(order_id=order.pk, payment_intent_id=f"pi_bench_{order.pk}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()

    profiles = {
        name: cProfile.Profile(time.process_time)
        for name in ("reserve", "fulfil")
        if args.profile in (name, "both")
    }
    client = {"reserve": 0.0, "fulfil": 0.0}
    backend = {"reserve": 0.0, "fulfil": 0.0}
    rng = random.Random(15)

    def measured(name, call):
        profile = profiles.get(name)
        cpu, db = time.process_time(), backend_cpu(pid)
        if profile:
            profile.enable()
        result = call()
        if profile:
            profile.disable()
        client[name] += time.process_time() - cpu
        backend[name] += backend_cpu(pid) - db
        return result

    for i in range(args.purchases):
        user = users[i % len(users)]
        lines = [LineRequest(competition.pk, answer.pk, quantity=rng.randint(1, 5))]
        order = measured("reserve", lambda: order_reserve(user=user, lines=lines))  # noqa: B023
        measured(
            "fulfil",
            lambda: order_fulfil(order_id=order.pk, payment_intent_id=f"pi_b_{order.pk}"),  # noqa: B023
        )

    n = args.purchases
    print(f"{n} purchases, ms per purchase (client CPU / PostgreSQL backend CPU):")
    for name in ("reserve", "fulfil"):
        print(f"  {name:8} {client[name] / n * 1000:6.2f} / {backend[name] / n * 1000:6.2f}")
    total_client, total_backend = sum(client.values()), sum(backend.values())
    print(f"  {'both':8} {total_client / n * 1000:6.2f} / {total_backend / n * 1000:6.2f}")
    for name, profile in profiles.items():
        print(f"== profile: {name}")
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
