"""The layer check (config/layers.py, `python3 dev.py check-layers`): on the real tree, and on
small fake trees that plant each kind of import it must find or must leave alone."""

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

from config.layers import LAYERS, import_graph, problems

ROOT = Path(__file__).resolve().parent.parent
FAKE_LAYERS = ("base", "middle", "top")


def plant(root: Path, files: dict[str, str]) -> Path:
    """Write a fake project: {"app/module.py": source}; each folder gets an __init__.py."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in path.relative_to(root).parents:
            if folder != Path("."):
                (root / folder / "__init__.py").touch()
        path.write_text(textwrap.dedent(source).lstrip())
    return root


def test_every_import_between_the_real_apps_points_down_with_no_cycle():
    assert problems(ROOT) == []


def test_every_app_in_the_repository_is_installed_and_has_a_layer():
    from django.conf import settings

    on_disk = sorted(p.parent.name for p in ROOT.glob("*/apps.py") if p.parent.name != "config")
    assert sorted(LAYERS) == on_disk
    installed = [app for app in settings.INSTALLED_APPS if app in LAYERS]
    assert tuple(installed) == LAYERS


def test_upward_imports_are_reported_with_file_and_line(tmp_path):
    plant(
        tmp_path,
        {
            "top/models.py": "VALUE = 1\n",
            "top/helpers.py": "def helper(): ...\n",
            "middle/services.py": "VALUE = 2\n",
            # Module level, the plainest case.
            "base/models.py": """
                from django.db import models

                from top.models import VALUE
            """,
            # Inside a function: a lazy import still ties the layers together.
            "base/services.py": """
                def later():
                    import middle.services

                    return middle.services.VALUE
            """,
            # Relative, resolved to the app it reaches; the one within the app is fine.
            "base/views.py": """
                from .models import VALUE
                from ..top import helpers
            """,
            # Downward imports are what layers are for.
            "top/views.py": "from middle import services\n",
        },
    )

    found = problems(tmp_path, layers=FAKE_LAYERS)

    assert found == [
        "base imports middle, which is above it: base/services.py:2",
        "base imports top, which is above it: base/models.py:3, base/views.py:2",
    ]


def test_a_cycle_is_reported_even_between_neighbours(tmp_path):
    plant(
        tmp_path,
        {
            "middle/models.py": "from top import models\n",
            "top/models.py": "from middle import models\n",
        },
    )

    assert problems(tmp_path, layers=FAKE_LAYERS) == [
        "middle imports top, which is above it: middle/models.py:1",
        "import cycle between apps: middle <-> top",
    ]


def test_a_tree_that_only_imports_down_has_no_problem(tmp_path):
    plant(
        tmp_path,
        {
            "base/models.py": "VALUE = 1\n",
            "middle/models.py": "from base.models import VALUE\n",
            "top/views.py": "def view():\n    from middle.models import VALUE\n",
        },
    )

    assert problems(tmp_path, layers=FAKE_LAYERS) == []
    assert import_graph(tmp_path, layers=FAKE_LAYERS) == {
        ("middle", "base"): ["middle/models.py:1"],
        ("top", "middle"): ["top/views.py:2"],
    }


def test_imports_in_tests_and_migrations_are_not_the_apps_code(tmp_path):
    plant(
        tmp_path,
        {
            "top/models.py": "VALUE = 1\n",
            "base/models.py": "VALUE = 2\n",
            "base/tests/test_models.py": "from top.models import VALUE\n",
            "base/migrations/0002_data.py": "def forwards(apps, schema_editor):\n"
            "    from top.models import VALUE\n",
        },
    )

    assert problems(tmp_path, layers=FAKE_LAYERS) == []
    assert import_graph(tmp_path, layers=FAKE_LAYERS) == {}


def load_dev():
    spec = importlib.util.spec_from_file_location("fairdraw_dev", ROOT / "dev.py")
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    return dev


def test_dev_check_layers_runs_on_the_standard_library_and_agrees_with_the_check():
    result = subprocess.run(
        [sys.executable, "-I", "-S", "dev.py", "check-layers", "-v"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == (1 if problems(ROOT) else 0), result.stdout + result.stderr
    assert f"{len(LAYERS)} apps" in result.stdout
    assert "check-layers:" in result.stdout


def test_the_test_command_stops_before_pytest_when_the_layers_are_broken(monkeypatch):
    dev = load_dev()
    steps = []
    monkeypatch.setattr(dev, "run", lambda *args, **kwargs: steps.append(args[:2]))
    monkeypatch.setattr(dev, "check_layers", lambda argv: steps.append("layers") or 1)
    monkeypatch.setattr(dev.subprocess, "call", lambda *a, **k: steps.append("pytest") or 0)

    assert dev.test([]) == 1
    assert steps[-1] == "layers"
    assert "pytest" not in steps

    monkeypatch.setattr(dev, "check_layers", lambda argv: steps.append("layers") or 0)
    steps.clear()
    assert dev.test(["-q"]) == 0
    assert steps[-2:] == ["layers", "pytest"]
    assert len(steps) == 4  # ruff check, ruff format --check, then layers, then pytest
