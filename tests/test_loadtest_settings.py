"""config.settings.loadtest (`make loadtest`): the real services or nothing, and only the
per-address limits raised (every simulated customer comes from 127.0.0.1)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/fairdraw_loadtest",
    "CACHE_URL": "redis://127.0.0.1:6379/6",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/7",
}
READ = """
import json
from django.conf import settings
print(json.dumps({name: getattr(settings, name) for name in (
    "DEBUG", "FAIRDRAW_DEV_TOOLS", "FAIRDRAW_CHECKOUT_RATE_ACCOUNT", "FAIRDRAW_CHECKOUT_RATE_CLIENT",
    "FAIRDRAW_BASKET_RATE", "FAIRDRAW_BASKET_RATE_CLIENT", "ACCOUNT_RATE_LIMITS")}))
"""


def load(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SERVICES and k != "DJANGO_DEBUG"}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + READ],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.loadtest", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_only_the_per_address_limits_are_raised():
    result = load(**SERVICES)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["DEBUG"] is False and loaded["FAIRDRAW_DEV_TOOLS"] is True
    assert loaded["FAIRDRAW_CHECKOUT_RATE_ACCOUNT"] == [10, 600]
    assert loaded["FAIRDRAW_BASKET_RATE"] == [60, 60]
    assert loaded["FAIRDRAW_CHECKOUT_RATE_CLIENT"][0] > 30
    assert loaded["FAIRDRAW_BASKET_RATE_CLIENT"][0] > 60
    assert loaded["ACCOUNT_RATE_LIMITS"]["login_failed"].endswith(",5/15m/key")


def test_refuses_to_run_on_the_embedded_defaults():
    result = load()
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr
