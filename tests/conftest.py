import pytest
from django.db import connection


@pytest.fixture
def on_postgres():
    """Skip (saying why) unless the tests run on PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)")
