"""Customers from before e-mail confirmation keep buying: accounts 0007 records their login
address as confirmed, except for banned or inactive accounts."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("accounts", "0006_move_out_to_own_apps"),
    ("account", "0009_emailaddress_unique_primary_email"),
]


@pytest.mark.django_db(transaction=True)
def test_existing_accounts_in_good_standing_get_a_confirmed_address():
    apps = MigrationExecutor(connection).migrate(BEFORE).apps
    User = apps.get_model("accounts", "User")
    User.objects.create(email="regular@example.com", first_name="R", password="!")
    User.objects.create(
        email="banned@example.com", first_name="B", password="!", is_banned=True,
        banned_at="2025-01-01T00:00:00Z",
    )  # fmt: skip
    User.objects.create(email="gone@example.com", first_name="G", password="!", is_active=False)

    executor = MigrationExecutor(connection)
    apps = executor.migrate(executor.loader.graph.leaf_nodes()).apps

    EmailAddress = apps.get_model("account", "EmailAddress")
    rows = dict(EmailAddress.objects.filter(primary=True).values_list("email", "verified"))
    assert rows == {
        "regular@example.com": True,
        "banned@example.com": False,
        "gone@example.com": False,
    }
