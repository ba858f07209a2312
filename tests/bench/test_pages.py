"""bench/pages.py serves the production settings: the environment it gives gunicorn must be
one production starts with (it refuses to start without what it needs)."""

import argparse
import subprocess
import sys

from bench import pages

CHECK = """
import django
django.setup()
from django.conf import settings
from tickets.receipts import signing_keys
print(settings.DEBUG, signing_keys()[0].is_development)
"""


def test_production_starts_with_the_pages_bench_environment():
    parser = argparse.ArgumentParser()
    pages.add_arguments(parser)
    env = pages._environment(parser.parse_args([]))

    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=pages.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
