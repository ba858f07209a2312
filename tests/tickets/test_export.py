"""The CSV export as a spreadsheet user sees it: empty cells empty, formula-like text inert."""

import csv
import io

import pytest
from django.utils import timezone

from tests.factories import UserFactory, active_competition, correct_answer
from tickets.export import tickets_csv
from tickets.models import Ticket
from tickets.services import order_record_paid

pytestmark = pytest.mark.django_db


def rows_for(user):
    competition = active_competition()
    order_record_paid(
        user=user,
        competition=competition,
        answer=correct_answer(competition),
        quantity=1,
        now=timezone.now(),
    )
    text = "".join(tickets_csv(Ticket.objects.filter(user=user)))
    return list(csv.DictReader(io.StringIO(text)))


def test_empty_cells_stay_empty():
    [row] = rows_for(UserFactory(first_name="Sarah", last_name=""))
    assert row["customer_last_name"] == ""
    assert row["refunded_at"] == ""  # never refunded: nothing, not a lone apostrophe
    assert row["customer_first_name"] == "Sarah"


@pytest.mark.parametrize("name", ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tcmd", "\r=1"])
def test_formula_like_text_is_shown_as_text(name):
    [row] = rows_for(UserFactory(first_name=name))
    assert row["customer_first_name"] == "'" + name


def test_text_with_a_formula_sign_inside_is_left_alone():
    [row] = rows_for(UserFactory(first_name="Anne-Marie", last_name="O'Neil"))
    assert (row["customer_first_name"], row["customer_last_name"]) == ("Anne-Marie", "O'Neil")
