"""The public pages under launch-day load, next to a trivial view, in one run.

gunicorn (`--pages-workers` sync workers, default 2, the Dockerfile's options but for
`--max-requests`: a 10-second run per page would restart each worker about once, and a
restart costs seconds; `--pages-max-requests 20000` puts it back) serves
the production settings on PostgreSQL (its own database, fairdraw_bench_pages) with a Redis
cache (db 15, flushed before the run, so every page starts cold). The shop has
`--pages-competitions` (default 200) competitions on sale, made through the real activation
service, each with a photo; a few are featured and a few close within the day. They are
made once and reused while all of them are still on sale.

A load generator of `--pages-concurrency` processes (default 8; each a loop of
http.client requests, one connection per request as with sync workers, sent as through the
TLS proxy, X-Forwarded-Proto https, and accepting gzip as browsers do; bodies are not
unpacked) hammers each URL for `--pages-duration` seconds (default
10) after a one-second warm-up: `/healthz` (touches nothing: the trivial view), `/`,
`/competitions/`, `/api/competitions?status=active` and one competition's page. It reports
requests per second, the ratio to the trivial view and the errors (anything but a 200).
Passes when there are no errors and every page reaches `--pages-min-ratio` (0.5) of the
trivial view. `--pages-uncached` runs the same again with the page cache off, for comparison.

The load generator shares the machine with the server: on a small machine both compete for
the CPU, which lowers the trivial view's figure the most.

    python bench/run.py pages [--pages-duration 10] [--pages-uncached]
    python bench/pages.py     (on its own)
"""

import base64
import hashlib
import http.client
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fairdraw_bench_pages"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
WORK_DIR = ROOT / "var" / "bench-pages"
TRIVIAL = "/healthz"
CLOSING_SOON = 6  # competitions that close within the day ("Closing soon" on the home page)
FEATURED_EVERY = 25
# Production refuses to start without a receipt key of its own; the pages sign no receipts, so
# a key printed here does (it proves nothing, like the development key).
RECEIPT_KEYS = (
    "bench-pages:"
    + base64.b64encode(
        hashlib.sha256(b"Fairdraw pages bench receipt key: published, NOT SECRET").digest()
    ).decode()
)


def add_arguments(parser) -> None:
    group = parser.add_argument_group("pages")
    group.add_argument("--pages-duration", type=float, default=10.0, help="seconds per URL")
    group.add_argument("--pages-concurrency", type=int, default=8, help="requests at once")
    group.add_argument("--pages-competitions", type=int, default=200, help="on sale")
    group.add_argument("--pages-workers", type=int, default=2, help="gunicorn sync workers")
    group.add_argument("--pages-min-ratio", type=float, default=0.5, help="of the trivial view")
    group.add_argument(
        "--pages-max-requests",
        type=int,
        default=0,
        help="gunicorn --max-requests (the Dockerfile's 20000; default 0: no worker restarts)",
    )
    group.add_argument(
        "--pages-database-url",
        default=os.environ.get("PAGES_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL for this benchmark (PAGES_DATABASE_URL)",
    )
    group.add_argument(
        "--pages-redis-url",
        default=os.environ.get("PAGES_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis database for the cache; flushed (PAGES_REDIS_URL)",
    )
    group.add_argument(
        "--pages-uncached", action="store_true", help="also measure with the page cache off"
    )


def _environment(args, *, cached: bool = True) -> dict:
    """The production settings' environment, pointed at the bench's database and Redis."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": args.pages_database_url,
        "CACHE_URL": args.pages_redis_url,
        "CELERY_BROKER_URL": args.pages_redis_url,
        "DJANGO_SECRET_KEY": "bench-pages-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
        "STRIPE_WEBHOOK_SECRET": "whsec_bench",
        "FAIRDRAW_RECEIPT_KEYS": RECEIPT_KEYS,
        "STATIC_ROOT": str(WORK_DIR / "static"),
        "MEDIA_ROOT": str(WORK_DIR / "media"),
        "FAIRDRAW_PAGE_CACHE_SECONDS": os.environ.get("FAIRDRAW_PAGE_CACHE_SECONDS", "5")
        if cached
        else "0",
        "LOG_LEVEL": os.environ.get("PAGES_LOG_LEVEL", "INFO"),  # production's: a line a request
        "PYTHONPATH": str(ROOT),
    }


# --- the shop (run in a child process with the production settings) ----------------------------


def prepare(count: int) -> str:
    """`count` competitions on sale, each with a photo; returns one competition's URL."""
    import django

    django.setup()
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.utils import timezone

    from bench.common import bench_competition
    from competitions.lifecycle import Status
    from competitions.models import Competition, CompetitionImage

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    soon = timezone.now() + timedelta(hours=2)
    on_sale = Competition.objects.with_status(Status.ACTIVE)
    if not (
        Competition.objects.count() == count == on_sale.count()
        and not on_sale.filter(ends_at__lt=soon).exists()
    ):
        Competition.objects.all().delete()
        for i in range(count):
            hours = 20 + i if i < CLOSING_SOON else 48 + i * 2
            competition, _ = bench_competition(
                label=f"pages-{i}",
                max_tickets=10_000,
                ends_in=timedelta(hours=hours),
                is_featured=i % FEATURED_EVERY == FEATURED_EVERY - 1,
                summary="A benchmark prize with a sentence or two about it.",
            )
            CompetitionImage.objects.create(
                competition=competition,
                image=ContentFile(b"\x89PNG bench", name=f"bench-{i}.png"),
                alt_text=f"Photo of {competition.title}",
            )
    return on_sale.order_by("ends_at", "id")[count // 2].get_absolute_url()


# --- the server and the load -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "GET", path, headers={"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"}
        )
        response = connection.getresponse()
        return response.status, len(response.read())
    finally:
        connection.close()


def _start_server(env: dict, args, port: int, log) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    restarts = (
        ["--max-requests", str(args.pages_max_requests), "--max-requests-jitter", "2000"]
        if args.pages_max_requests
        else []
    )
    server = subprocess.Popen(
        [
            str(gunicorn), "config.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", str(args.pages_workers), "--worker-class", "sync",
            "--timeout", "30", "--graceful-timeout", "30", *restarts,
            "--worker-tmp-dir", "/dev/shm" if Path("/dev/shm").is_dir() else "/tmp",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}); see {log.name}")
        try:
            if _get(port, TRIVIAL)[0] == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError(f"gunicorn did not answer within 30 s; see {log.name}")


def _stop_server(server: subprocess.Popen) -> None:
    server.terminate()  # gunicorn's master stops its workers
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _hammer(port: int, path: str, until: float, results) -> None:
    done = errors = size = 0
    statuses: dict[int | str, int] = {}
    while time.monotonic() < until:
        try:
            status, size = _get(port, path)
        except OSError as error:
            status = type(error).__name__
        if status == 200:
            done += 1
        else:
            errors += 1
            statuses[status] = statuses.get(status, 0) + 1
    results.put((done, errors, size, statuses))


def _load(port: int, path: str, concurrency: int, duration: float) -> dict:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    started = time.monotonic()
    workers = [
        context.Process(target=_hammer, args=(port, path, started + duration, results))
        for _ in range(concurrency)
    ]
    for worker in workers:
        worker.start()
    collected = [results.get(timeout=duration + 60) for _ in workers]
    elapsed = time.monotonic() - started
    for worker in workers:
        worker.join()
    statuses: dict = {}
    for _, _, _, seen in collected:
        for status, n in seen.items():
            statuses[status] = statuses.get(status, 0) + n
    done = sum(c[0] for c in collected)
    return {
        "requests": done,
        "errors": sum(c[1] for c in collected),
        "statuses": statuses,
        "bytes": max(c[2] for c in collected),
        "rps": done / elapsed,
    }


def _measure(args, env: dict, label: str) -> list[tuple[str, str, dict]]:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    with open(WORK_DIR / f"gunicorn-{label}.log", "w") as log:
        server = _start_server(env, args, port, log)
        try:
            rows = []
            for name, path in args.pages_urls:
                _load(port, path, args.pages_concurrency, 1.0)  # warm-up (and a warm cache)
                rows.append(
                    (name, path, _load(port, path, args.pages_concurrency, args.pages_duration))
                )
            return rows
        finally:
            _stop_server(server)


def _report(label: str, rows, min_ratio: float) -> bool:
    trivial = rows[0][2]["rps"]
    ok = True
    print(f"{label}: requests/s over the run, ratio to the trivial view (target >= {min_ratio}x)")
    print(f"  {'page':<18} {'url':<40} {'req/s':>8} {'ratio':>7} {'KB sent':>7} {'errors':>6}")
    for name, path, result in rows:
        ratio = result["rps"] / trivial if trivial else 0.0
        bad = result["errors"] or (path != TRIVIAL and ratio < min_ratio)
        ok &= not bad
        print(
            f"  {name:<18} {path:<40} {result['rps']:>8.0f} {ratio:>6.2f}x "
            f"{result['bytes'] / 1024:>7.1f} {result['errors']:>6}"
            + (f"  {result['statuses']}" if result["errors"] else "")
            + ("  <- below target" if path != TRIVIAL and ratio < min_ratio else "")
        )
    return ok


def run(args) -> dict:
    from bench.run import _create_database

    _create_database(args.pages_database_url)
    env = _environment(args)
    prepared = subprocess.run(
        [sys.executable, str(Path(__file__)), "--prepare", str(args.pages_competitions)],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    detail = prepared.stdout.strip().splitlines()[-1]
    args.pages_urls = [
        ("trivial", TRIVIAL),
        ("home", "/"),
        ("list", "/competitions/"),
        ("API list", "/api/competitions?status=active"),
        ("competition page", detail),
    ]
    import redis

    print(
        f"gunicorn {args.pages_workers} sync workers, production settings, "
        f"{args.pages_competitions} competitions on sale, concurrency {args.pages_concurrency}, "
        f"{args.pages_duration:g} s per URL, {os.cpu_count()} CPUs"
    )
    redis.Redis.from_url(args.pages_redis_url).flushdb()  # the bench's own db: a cold cache
    ok = _report("page cache on", _measure(args, env, "cached"), args.pages_min_ratio)
    if args.pages_uncached:
        uncached = _measure(args, _environment(args, cached=False), "uncached")
        _report("page cache off (for comparison)", uncached, 0.0)
    return {"ok": ok}


def main() -> None:
    import argparse

    sys.path.insert(0, str(ROOT))
    if sys.argv[1:2] == ["--prepare"]:
        print(prepare(int(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    sys.exit(0 if run(parser.parse_args()).get("ok") else 1)


if __name__ == "__main__":
    main()
