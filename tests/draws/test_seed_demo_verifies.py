"""docs/architecture.md §5: seed_demo draws through the real services, so every drawn demo
verifies."""

import io

import pytest
from django.core.management import call_command

from competitions.lifecycle import Status
from competitions.models import Competition
from draws.verification import all_ok, verify_draw


@pytest.mark.django_db
def test_verify_draw_passes_on_every_drawn_demo_competition(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", verbosity=0)
    drawn = Competition.objects.filter(status=Status.DRAWN)
    assert drawn.exists()
    for competition in drawn:
        draw = competition.draws.get()
        assert all_ok(verify_draw(draw)), competition.slug
        out = io.StringIO()
        call_command("verify_draw", competition.slug, stdout=out)
        assert "✗" not in out.getvalue()
