#!/usr/bin/env python3
"""The newcomer's door: `python3 dev.py serve` and `python3 dev.py test`.

Needs only Python 3.11+. Creates `.venv/`, installs the project into it (again only when
pyproject.toml changes), then:

  serve  migrate, seed demo data, create the demo admin, start a Celery worker with beat
         (no Redis: kombu's filesystem broker) and serve the site on http://127.0.0.1:8000
  test   ruff (lint + format check), the layer check, then the whole pytest suite; extra
         arguments go to pytest
  check-layers [-v]
         every import between apps points down the layers (config/layers.py); -v prints
         the graph. Needs no virtualenv.
"""

import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".fairdraw-installed"


def say(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", flush=True)


def run(*args, **kwargs) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True, **kwargs)


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on whatever python3 is
        sys.exit("Fairdraw needs Python 3.11 or newer.")
    if not PY.exists():
        say("Creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    say("Installing Fairdraw and its dependencies into .venv")
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(wanted)


def manage(*args, env=None) -> None:
    run(PY, "manage.py", *args, env=env)


def serve(argv) -> int:
    port = argv[0] if argv else os.environ.get("PORT", "8000")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "PYTHONUNBUFFERED": "1"}
    # Links in e-mails and texts point at the port served, not the default one.
    env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    say("Migrating the database")
    manage("migrate", "--noinput", env=env)
    say("Loading demo data")
    manage("seed_demo", env=env)
    manage("ensure_demo_admin", env=env)
    say("Starting the Celery worker with beat (filesystem broker, no Redis)")
    (ROOT / "var").mkdir(exist_ok=True)
    worker = subprocess.Popen(
        [
            str(BIN / "celery"), "-A", "config", "worker", "--beat", "--pool=solo",
            "--loglevel=INFO", "--schedule", str(ROOT / "var" / "celerybeat-schedule"),
        ],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    say(
        f"Serving Fairdraw on http://127.0.0.1:{port}/ (admin at /admin/). Ctrl+C stops everything."
    )
    try:
        return subprocess.call(
            [str(PY), "manage.py", "runserver", f"127.0.0.1:{port}"], cwd=ROOT, env=env
        )
    except KeyboardInterrupt:
        return 0
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()


def check_layers(argv) -> int:
    # Loaded from its file: importing the `config` package would import Celery, which lives
    # in the virtualenv this command does not need.
    spec = importlib.util.spec_from_file_location("fairdraw_layers", ROOT / "config" / "layers.py")
    layers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layers)
    return layers.main(argv)


def test(argv) -> int:
    say("ruff check")
    run(BIN / "ruff", "check", ".")
    say("ruff format --check")
    run(BIN / "ruff", "format", "--check", ".")
    say("check-layers")
    if check_layers([]) != 0:
        return 1
    database = os.environ.get("DATABASE_URL", "sqlite (no DATABASE_URL set)")
    say(f"pytest on {database}")
    return subprocess.call([str(PY), "-m", "pytest", *argv], cwd=ROOT)


COMMANDS = {"serve": serve, "test": test, "check-layers": check_layers}
# Commands that run on the standard library alone, before (or without) .venv.
NO_VENV = {"check-layers"}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    if sys.argv[1] not in NO_VENV:
        ensure_venv()
    try:
        return COMMANDS[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as error:
        return error.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
