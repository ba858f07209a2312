"""Multi-buy bundles and discount codes: what the customer is charged, in exact pence, from
the basket to Stripe and back out in refunds."""

import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from competitions.models import Bundle
from competitions.pricing import Offer, best_price
from core.models import AuditEntry
from tests.factories import UserFactory, active_competition
from tickets import spending
from tickets.exceptions import CodeRefused
from tickets.models import DiscountCode, DiscountRedemption, Order, OrderLine, Refund
from tickets.services import (
    order_checkout_start,
    order_refund,
    order_release,
    order_reserve,
    postal_entry_add,
)
from tickets.services.discounts import discount_code_save

from .conftest import paid_event, post_event
from .helpers import line, reserve

pytestmark = pytest.mark.django_db

D = Decimal


def bundles(competition, *pairs):
    for quantity, price in pairs:
        Bundle.objects.create(competition=competition, quantity=quantity, price=D(price))
    return competition


def code(text="WELCOME10", **kw) -> DiscountCode:
    kw.setdefault("percent", D("10") if kw.get("kind", "percent") == "percent" else None)
    return DiscountCode.objects.create(code=text, **kw)


# ------------------------------------------------------------------ the pricing rule


def brute_force(quantity, unit, offers):
    """Every mix, by a plain programme over all quantities: what best_price must equal."""
    cost = [D(0)] * (quantity + 1)
    for n in range(1, quantity + 1):
        cost[n] = min(
            [cost[n - 1] + unit]
            + [cost[n - o.quantity] + o.price for o in offers if o.quantity <= n]
        )
    return cost[quantity]


class TestBestPrice:
    def test_single_tickets_without_bundles(self):
        price = best_price(7, D("0.99"), [])
        assert (price.total, price.saving, price.singles, price.breakdown) == (D("6.93"), 0, 7, "")

    def test_largest_bundle_then_singles(self):
        price = best_price(7, D("0.99"), [Offer(5, D("4.00")), Offer(10, D("7.50"))])
        assert price.total == D("5.98")
        assert price.saving == D("0.95")
        assert price.breakdown == "5 for £4.00 + 2 × £0.99"

    def test_the_cheapest_mix_even_where_largest_first_is_not(self):
        # Largest first: 5 + 1 = £4.99. Two threes: £4.40.
        price = best_price(6, D("0.99"), [Offer(5, D("4.00")), Offer(3, D("2.20"))])
        assert price.total == D("4.40")
        assert price.breakdown == "2 × 3 for £2.20"

    def test_never_dearer_than_singles(self):
        # A "bundle" dearer per ticket than singles is never chosen.
        price = best_price(5, D("1.00"), [Offer(5, D("5.50"))])
        assert price.total == D("5.00") and price.bundles == ()

    @pytest.mark.parametrize("quantity", [*range(0, 80), 997, 10_000])
    def test_matches_every_mix(self, quantity):
        offers = [Offer(3, D("2.60")), Offer(5, D("4.00")), Offer(12, D("9.00"))]
        price = best_price(quantity, D("0.99"), offers)
        assert price.total == brute_force(quantity, D("0.99"), offers)
        bought = sum(o.quantity * n for o, n in price.bundles) + price.singles
        assert bought == quantity

    def test_a_large_line_is_quick(self):
        started = time.process_time()
        best_price(1_000_000, D("0.10"), [Offer(7, D("0.60")), Offer(50, D("4.00"))])
        assert time.process_time() - started < 1  # a bound, not a timing: it is milliseconds


# ------------------------------------------------------------------ orders and Stripe


def test_a_bundle_order_stores_its_price_and_stripe_charges_exactly_it(fake_stripe):
    competition = bundles(active_competition(ticket_price=D("0.99")), (5, "4.00"), (10, "7.50"))

    order = reserve(UserFactory(), competition, quantity=7)

    (priced,) = OrderLine.objects.filter(order=order)
    assert (priced.unit_price, priced.bundle_discount, priced.code_discount) == (
        D("0.99"),
        D("0.95"),
        D("0.00"),
    )
    assert priced.line_total == order.total == D("5.98")
    assert priced.bundles == [{"quantity": 5, "price": "4.00", "times": 1}]
    order_checkout_start(order=order, success_url="http://t/s/", cancel_url="http://t/c/")
    session = fake_stripe.sessions[Order.objects.get(pk=order.pk).stripe_checkout_session_id]
    assert session["amount_total"] == 598
    (call,) = fake_stripe.calls("POST", "/v1/checkout/sessions")
    (item,) = call.params["line_items"]
    # 598p does not split into 7 equal pence: one item for the 7 tickets.
    assert (item["quantity"], item["price_data"]["unit_amount"]) == ("1", "598")
    assert "7 tickets" in item["price_data"]["product_data"]["name"]
    assert item["price_data"]["product_data"]["description"] == "5 for £4.00 + 2 × £0.99"


def test_a_whole_bundle_goes_to_stripe_as_equal_tickets(fake_stripe):
    competition = bundles(active_competition(ticket_price=D("1.00")), (10, "7.50"))
    order = reserve(UserFactory(), competition, quantity=10)
    order_checkout_start(order=order, success_url="http://t/s/", cancel_url="http://t/c/")
    (call,) = fake_stripe.calls("POST", "/v1/checkout/sessions")
    (item,) = call.params["line_items"]
    assert (item["quantity"], item["price_data"]["unit_amount"]) == ("10", "75")


def test_awkward_rounding_33_percent_off_a_bundle_of_three_at_99p(fake_stripe):
    competition = bundles(active_competition(ticket_price=D("0.99")), (3, "2.50"))
    code("THIRTYTHREE", percent=D("33"))

    order = order_reserve(
        user=UserFactory(), lines=[line(competition, quantity=3)], code="thirtythree"
    )

    # 33% of £2.50 is £0.825: rounded half up once, £0.83.
    (priced,) = order.lines.all()
    assert (priced.bundle_discount, priced.code_discount, priced.line_total) == (
        D("0.47"),
        D("0.83"),
        D("1.67"),
    )
    assert order.total == D("1.67")
    assert order.redemption.amount == D("0.83")
    order_checkout_start(order=order, success_url="http://t/s/", cancel_url="http://t/c/")
    order.refresh_from_db()
    assert fake_stripe.sessions[order.stripe_checkout_session_id]["amount_total"] == 167


def test_a_site_wide_code_is_shared_between_lines_to_the_penny():
    first = bundles(active_competition(ticket_price=D("0.99")), (5, "4.00"))
    second = active_competition(ticket_price=D("2.50"))
    code("SPRING", percent=D("15"))

    order = order_reserve(
        user=UserFactory(),
        lines=[line(first, quantity=7), line(second, quantity=1)],
        code="SPRING",
    )

    # £5.98 + £2.50 = £8.48; 15% = £1.272, so £1.27 off, shared 5.98 : 2.50.
    lines = {x.competition_id: x for x in order.lines.all()}
    assert lines[first.pk].code_discount + lines[second.pk].code_discount == D("1.27")
    assert (lines[first.pk].code_discount, lines[second.pk].code_discount) == (
        D("0.90"),
        D("0.37"),
    )
    assert order.total == D("7.21") == sum(x.line_total for x in lines.values())


def test_a_fixed_code_for_one_competition_takes_off_only_its_tickets():
    mine, other = active_competition(), active_competition()  # £2.50 a ticket
    code("CAR2", kind="fixed", amount=D("2.00"), competition=mine)

    order = order_reserve(
        user=UserFactory(), lines=[line(mine, quantity=2), line(other, quantity=2)], code="CAR2"
    )

    lines = {x.competition_id: x for x in order.lines.all()}
    assert (lines[mine.pk].line_total, lines[other.pk].line_total) == (D("3.00"), D("5.00"))
    assert order.total == D("8.00")


def refused(user, competition, text, **kw) -> str:
    """Check out with the code; it must be refused with nothing written."""
    before = (Order.objects.count(), DiscountRedemption.objects.count())
    with pytest.raises(CodeRefused) as refusal:
        order_reserve(user=user, lines=[line(competition, **kw)], code=text)
    assert (Order.objects.count(), DiscountRedemption.objects.count()) == before
    return str(refusal.value)


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"valid_until": timezone.now() - timedelta(days=1)}, "The code OLD expired on"),
        ({"valid_from": timezone.now() + timedelta(days=1)}, "The code OLD can be used from"),
        ({"is_active": False}, "The code OLD is no longer available."),
        ({"max_uses": 0}, "The code OLD has been used up."),
        ({"min_spend": D("10.00")}, "needs a spend of at least £10.00; this basket is £5.00"),
    ],
)
def test_codes_that_do_not_apply_are_refused_with_nothing_written(terms, message):
    code("OLD", **terms)
    assert message in refused(UserFactory(), active_competition(), "OLD", quantity=2)
    assert DiscountCode.objects.get(code="OLD").uses == 0


def test_unknown_codes_and_codes_for_another_competition_are_refused():
    competition, elsewhere = active_competition(), active_competition()
    code("CARONLY", competition=elsewhere)
    assert "We don’t recognise the code “NOPE”" in refused(
        UserFactory(), competition, "nope", quantity=1
    )
    assert f"is for “{elsewhere.title}”" in refused(
        UserFactory(), competition, "CARONLY", quantity=1
    )


def test_a_code_never_makes_an_order_cost_less_than_the_minimum_card_payment():
    competition = active_competition(ticket_price=D("2.50"))
    code("FREE", percent=D("100"))

    order = order_reserve(user=UserFactory(), lines=[line(competition, quantity=1)], code="FREE")

    assert order.total == D("0.30")
    assert order.redemption.amount == D("2.20")
    cheap = active_competition(ticket_price=D("0.25"))
    assert "too small for the code FREE" in refused(UserFactory(), cheap, "FREE", quantity=1)


def test_each_customer_uses_a_code_once_and_a_lapsed_checkout_gives_the_use_back(client):
    competition = active_competition()
    welcome = code("WELCOME10", max_uses=100, max_uses_per_customer=1)
    customer = UserFactory()

    first = order_reserve(user=customer, lines=[line(competition, quantity=1)], code="WELCOME10")
    # A new checkout replaces the open one, code and all: still one use.
    second = order_reserve(user=customer, lines=[line(competition, quantity=2)], code="WELCOME10")
    welcome.refresh_from_db()
    assert welcome.uses == 1
    assert DiscountRedemption.objects.get(order=first).released_at is not None

    assert order_release(order_id=second.pk, reason=Order.Status.CANCELLED, only_if_lapsed=False)
    welcome.refresh_from_db()
    assert welcome.uses == 0

    third = order_reserve(user=customer, lines=[line(competition, quantity=2)], code="WELCOME10")
    post_event(client, _completed(third))
    third.refresh_from_db()
    assert third.status == Order.Status.PAID
    assert refused(customer, competition, "WELCOME10", quantity=1) == (
        "You have already used the code WELCOME10."
    )
    assert order_reserve(
        user=UserFactory(), lines=[line(competition, quantity=1)], code="WELCOME10"
    )


def _completed(order):
    from .conftest import completed_event

    return completed_event(order, event_id=f"evt_{order.reference}")


def test_payment_spend_and_refunds_follow_what_was_paid(
    fake_stripe, client, django_capture_on_commit_callbacks
):
    competition = bundles(active_competition(ticket_price=D("0.99")), (5, "4.00"))
    code("TENOFF", percent=D("10"))
    customer = UserFactory()
    order = order_reserve(user=customer, lines=[line(competition, quantity=5)], code="TENOFF")
    assert order.total == D("3.60")
    assert spending.monthly_spend(customer) == D("3.60")  # held, at the discounted price

    response = post_event(client, paid_event(fake_stripe, order))
    assert response.json()["outcome"] == "paid"
    assert spending.monthly_spend(customer) == D("3.60")

    tickets = list(order.tickets.order_by("number"))
    with django_capture_on_commit_callbacks(execute=True):
        first = order_refund(order=order, tickets=tickets[:1])
        rest = order_refund(order=order)
    assert first.amount == D("0.72")  # £3.60 / 5
    assert rest.amount == D("2.88")
    order.refresh_from_db()
    assert order.amount_refunded == order.total == D("3.60")
    assert [r.amount for r in Refund.objects.filter(order=order)] == [D("2.88"), D("0.72")]
    refunded = [int(c.params["amount"]) for c in fake_stripe.calls("POST", "/v1/refunds")]
    assert sorted(refunded) == [72, 288]
    # Tickets were issued: the code's use stays counted after the refund.
    assert DiscountCode.objects.get(code="TENOFF").uses == 1


def test_uneven_refunds_add_up_to_the_line_paid():
    competition = bundles(active_competition(ticket_price=D("0.99")), (3, "2.50"))
    order = reserve(UserFactory(), competition, quantity=3)
    from tickets.services import order_fulfil

    order_fulfil(order_id=order.pk)
    amounts = [order_refund(order=order, tickets=[t]).amount for t in order.tickets.all()]
    assert amounts == [D("0.83"), D("0.84"), D("0.83")]
    assert sum(amounts) == D("2.50")


def test_a_refused_payment_gives_the_code_use_back(fake_stripe, client):
    competition = active_competition()
    code("ONCE", max_uses=1)
    order = order_reserve(user=UserFactory(), lines=[line(competition, quantity=2)], code="ONCE")

    # Paid the wrong amount: refunded automatically, no tickets, the use comes back.
    response = post_event(client, paid_event(fake_stripe, order, amount_pence=1))
    assert response.json()["outcome"].startswith("refunded")
    assert DiscountCode.objects.get(code="ONCE").uses == 0
    assert DiscountRedemption.objects.get(order=order).released_at is not None


def test_a_late_payment_is_refunded_if_the_code_was_used_up_meanwhile(fake_stripe, client):
    competition = active_competition()
    code("ONCE", max_uses=1)
    late = order_reserve(user=UserFactory(), lines=[line(competition, quantity=1)], code="ONCE")
    order_release(order_id=late.pk, only_if_lapsed=False)
    order_reserve(user=UserFactory(), lines=[line(competition, quantity=1)], code="ONCE")

    response = post_event(client, paid_event(fake_stripe, late))

    assert "used up" in response.json()["outcome"]
    late.refresh_from_db()
    assert late.status == Order.Status.REFUNDED
    assert DiscountCode.objects.get(code="ONCE").uses == 1


def test_a_late_payment_takes_its_code_use_again(fake_stripe, client):
    competition = active_competition()
    code("TWICE", max_uses=2)
    late = order_reserve(user=UserFactory(), lines=[line(competition, quantity=1)], code="TWICE")
    order_release(order_id=late.pk, only_if_lapsed=False)
    assert DiscountCode.objects.get(code="TWICE").uses == 0

    response = post_event(client, paid_event(fake_stripe, late))

    assert response.json()["outcome"] == "paid after the reservation lapsed"
    assert DiscountCode.objects.get(code="TWICE").uses == 1
    assert DiscountRedemption.objects.get(order=late).released_at is None


def test_postal_entries_stay_free_whatever_the_offers():
    competition = bundles(active_competition(), (5, "4.00"))
    code("ALL", percent=D("50"))
    tickets = postal_entry_add(user=UserFactory(), competition=competition, quantity=5)
    assert len(tickets) == 5 and all(t.order_id is None for t in tickets)
    assert not Order.objects.exists() and not DiscountRedemption.objects.exists()


def test_staff_changes_to_codes_are_audited():
    staff = UserFactory(is_staff=True)
    new = discount_code_save(code=DiscountCode(code=" summer 5 ", percent=D("5")), by=staff)
    assert new.code == "SUMMER5"
    new.max_uses = 50
    discount_code_save(code=new, by=staff)
    entries = AuditEntry.objects.filter(object_id=str(new.pk)).order_by("id")
    assert [e.action for e in entries] == ["discount_code.create", "discount_code.edit"]
    assert entries[1].after == {"max_uses": 50}


def test_a_fixed_code_leaves_every_ticket_a_penny_to_refund():
    mine, other = active_competition(), active_competition()  # £2.50 a ticket
    code("BIG", kind="fixed", amount=D("50.00"), competition=mine)

    order = order_reserve(
        user=UserFactory(), lines=[line(mine, quantity=2), line(other, quantity=1)], code="BIG"
    )

    lines = {x.competition_id: x for x in order.lines.all()}
    assert lines[mine.pk].line_total == D("0.02")  # £5.00 less £4.98
    assert order.total == D("2.52")


def test_a_code_checkout_takes_the_codes_row_after_the_tickets_and_before_the_competitions():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.test_query_counts import counted, takes_a_competition_row

    competition = bundles(active_competition(max_tickets=1000), (5, "10.00"))
    code("LAUNCH", max_uses=10)
    with CaptureQueriesContext(connection) as capture:
        order_reserve(user=UserFactory(), lines=[line(competition, quantity=5)], code="LAUNCH")

    statements = counted(capture.captured_queries)
    # (On PostgreSQL the lucky dips are written by a statement of their own: INSERT ... SELECT.)
    tickets = next(
        i for i, s in enumerate(statements) if re.search(r'INSERT INTO "?tickets_ticket"?', s)
    )
    code_row = [
        i for i, s in enumerate(statements) if s.startswith('UPDATE "tickets_discountcode"')
    ]
    competition_row = [i for i, s in enumerate(statements) if takes_a_competition_row(s)]
    # One statement each on the shared rows: the code's, then the competition's, last.
    assert len(code_row) == 1 and competition_row == [len(statements) - 1]
    assert tickets < code_row[0] < competition_row[0]


def test_order_lines_written_in_sql_without_the_offer_columns_get_no_discounts():
    """bench/ writes order lines in SQL naming only the original columns."""
    from django.db import connection

    competition = active_competition()
    order = reserve(UserFactory(), competition, quantity=1)
    other = active_competition()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tickets_orderline (order_id, competition_id, quantity, chosen_numbers,"
            " answer_id, unit_price, line_total) VALUES (%s, %s, 1, '[]', %s, 2.50, 2.50)",
            [order.pk, other.pk, other.answers.get(is_correct=True).pk],
        )
    written = OrderLine.objects.get(order=order, competition=other)
    assert (written.bundle_discount, written.code_discount, written.bundles) == (0, 0, [])


def test_duplicating_a_competition_copies_its_bundles_and_a_final_one_keeps_them_fixed():
    from competitions.exceptions import CompetitionLocked
    from competitions.services import competition_duplicate, competition_edit_parts
    from tickets.cancellation import competition_cancel

    staff = UserFactory(is_staff=True)
    competition = bundles(active_competition(ticket_price=D("0.99")), (5, "4.00"))

    copy = competition_duplicate(competition=competition, by=staff)

    assert [(b.quantity, b.price) for b in copy.bundles.all()] == [(5, D("4.00"))]
    competition_cancel(competition=competition, by=staff, reason="Prize unavailable")
    competition.refresh_from_db()

    def add_bundle():
        Bundle.objects.create(competition=competition, quantity=10, price=D("7.00"))
        return {"added": ["10 for £7.00"], "changed": [], "deleted": []}

    with pytest.raises(CompetitionLocked):
        competition_edit_parts(competition=competition, by=staff, part="bundle", save=add_bundle)
    assert competition.bundles.count() == 1
