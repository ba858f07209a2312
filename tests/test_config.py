import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User

ROOT = Path(__file__).resolve().parent.parent


def test_production_settings_pass_the_deploy_check():
    from tests.test_production import production_env

    env = production_env()
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_a_missing_secret_key():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": "sqlite://",
    }
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_demo_admin_is_created_in_development_only(settings, client):
    settings.FAIRDRAW_DEV_TOOLS = False
    with pytest.raises(CommandError):
        call_command("ensure_demo_admin")
    assert not User.objects.filter(email="admin@demo.fairdraw.example").exists()
    settings.FAIRDRAW_DEV_TOOLS = True
    call_command("ensure_demo_admin")
    admin = User.objects.get(email="admin@demo.fairdraw.example")
    assert admin.is_superuser
    assert client.login(email="admin@demo.fairdraw.example", password="fairdraw-demo-admin")
    assert client.get("/admin/").status_code == 200


def test_twilio_request_logging_is_quiet():
    """Twilio's client logs each request with its headers at INFO; we keep it to warnings."""
    import logging

    assert logging.getLogger("twilio.http_client").getEffectiveLevel() == logging.WARNING


def test_the_filesystem_broker_keeps_every_folder_under_var(settings):
    """kombu's filesystem transport writes a control/ folder into the working directory
    unless told where; all of its folders belong under var/, which git ignores."""
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("the broker is not kombu's filesystem transport")
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        assert Path(options[key]).is_relative_to(settings.VAR_DIR), key
