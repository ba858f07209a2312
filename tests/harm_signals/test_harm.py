"""Harm signals: each rule at its threshold, the scan's open/refresh/quiet behaviour, the staff
workflow with its history and audit entries, and the back-office pages."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ExclusionKind
from core.models import AuditEntry, OperatorSettings
from harm_signals import services as harm
from harm_signals.models import HarmAction, HarmFlag
from harm_signals.services import (
    QUIET_PERIOD,
    harm_flag_add_note,
    harm_flag_close,
    harm_flag_impose_break,
    harm_flag_reopen,
    harm_flag_set_limit,
    harm_signals_scan,
)
from responsible_play.limits import monthly_limit_for, spend_limit_set
from responsible_play.models import SpendLimit
from tests.factories import CompetitionFactory, TicketFactory, UserFactory
from tickets import spending
from tickets.models import Order, PaymentEvent, Ticket

pytestmark = pytest.mark.django_db

Rule, Status = HarmFlag.Rule, HarmFlag.Status
# A Tuesday afternoon in November: GMT, mid-month.
NOW = timezone.make_aware(datetime(2026, 11, 24, 15, 0))


@pytest.fixture(autouse=True)
def operator(db):
    """Small thresholds, so each rule's boundary is a handful of rows."""
    row = OperatorSettings.current()
    row.monthly_spend_cap = Decimal("1000.00")
    row.harm_entries_per_day = 5
    row.harm_spend_share_percent = 90
    row.harm_limit_raises = 3
    row.harm_declined_payments = 3
    row.monthly_spend_cap = Decimal("1000.00")
    row.save()
    return row


def flags(user=None, **kw):
    queryset = HarmFlag.objects.all()
    if user is not None:
        queryset = queryset.filter(user=user)
    return list(queryset.filter(**kw))


def order(user, *, total, at=NOW, refunded="0", status=Order.Status.PAID, **kw) -> Order:
    return Order.objects.create(
        user=user,
        status=status,
        total=Decimal(total),
        amount_refunded=Decimal(refunded),
        paid_at=at if status in Order.PAID_STATES else None,
        **kw,
    )


def buy(user, count, *, at=NOW, competition=None, **kw) -> list[Ticket]:
    """`count` paid tickets bought at `at` in one paid order."""
    competition = competition or CompetitionFactory()
    paid = order(user, total=Decimal("2.50") * count, at=at)
    return [
        TicketFactory(
            user=user,
            competition=competition,
            order=paid,
            source=Ticket.Source.PAID,
            purchased_at=at,
            **kw,
        )
        for _ in range(count)
    ]


def declined(user, count, *, at=NOW, kind=harm.PAYMENT_FAILED):
    attempt = order(user, total="10.00", status=Order.Status.CANCELLED)
    events = [
        PaymentEvent.objects.create(
            stripe_event_id=f"evt_{user.pk}_{attempt.pk}_{n}_{kind}",
            type=kind,
            order=attempt,
            payload={},
        )
        for n in range(count)
    ]
    PaymentEvent.objects.filter(pk__in=[e.pk for e in events]).update(received_at=at)


# ---------------------------------------------------------------- entries per day


def test_entries_per_day_flags_at_the_threshold_not_one_below():
    customer = UserFactory()
    buy(customer, 4, at=NOW - timedelta(hours=2))

    assert harm_signals_scan(now=NOW).opened == 0
    assert flags(customer) == []

    buy(customer, 1, at=NOW - timedelta(minutes=5))
    summary = harm_signals_scan(now=NOW)

    [flag] = flags(customer)
    assert summary.opened == 1
    assert (flag.rule, flag.status) == (Rule.ENTRIES_PER_DAY, Status.OPEN)
    assert (flag.value, flag.threshold) == (Decimal("5"), Decimal("5"))
    assert flag.detail == "Bought 5 paid entries on 24 Nov 2026 (UK day); flags at 5."
    assert flag.first_seen_at == flag.last_seen_at == NOW


def test_only_paid_entries_of_the_uk_day_count():
    customer = UserFactory()
    competition = CompetitionFactory()
    buy(customer, 3, competition=competition)
    # Refunded tickets were still bought today: they count.
    buy(customer, 1, competition=competition, status=Ticket.Status.REFUNDED, refunded_at=NOW)
    TicketFactory(user=customer, competition=competition, purchased_at=NOW)  # postal
    buy(customer, 1, competition=competition, status=Ticket.Status.RESERVED)  # awaiting payment
    uk_midnight = timezone.make_aware(datetime(2026, 11, 24, 0, 0))
    buy(customer, 3, competition=competition, at=uk_midnight - timedelta(seconds=1))

    harm_signals_scan(now=NOW)
    assert flags(customer) == []

    buy(customer, 1, competition=competition, at=uk_midnight)
    harm_signals_scan(now=NOW)
    assert flags(customer)[0].value == 5


def test_the_day_is_the_uk_day_in_summer_time():
    customer = UserFactory()
    now = timezone.make_aware(datetime(2026, 7, 10, 9, 0))  # BST: UTC+1
    # 23:30 UTC on the 9th is 00:30 on the 10th in London: today.
    buy(customer, 5, at=datetime(2026, 7, 9, 23, 30, tzinfo=UTC))
    # 22:59 UTC on the 9th is 23:59 on the 9th in London: yesterday.
    other = UserFactory()
    buy(other, 5, at=datetime(2026, 7, 9, 22, 59, tzinfo=UTC))

    harm_signals_scan(now=now)

    assert [f.rule for f in flags(customer)] == [Rule.ENTRIES_PER_DAY]
    assert flags(other) == []


# ---------------------------------------------------------------- spend versus limit


def test_spend_vs_limit_flags_at_the_share_not_a_penny_below():
    customer = UserFactory()
    spend_limit_set(user=customer, monthly_limit=Decimal("100"), now=NOW - timedelta(days=20))
    order(customer, total="89.99", at=NOW - timedelta(days=1))

    harm_signals_scan(now=NOW)
    assert flags(customer) == []

    order(customer, total="0.01", at=NOW - timedelta(hours=1))
    harm_signals_scan(now=NOW)

    [flag] = flags(customer)
    assert flag.rule == Rule.SPEND_VS_LIMIT
    assert (flag.value, flag.threshold) == (Decimal("90.00"), Decimal("90.00"))
    assert flag.detail == ("Spent £90.00 this month: 90% of their limit of £100.00; flags at 90%.")


def test_spend_is_net_of_refunds_plus_holds_and_this_month_only():
    customer = UserFactory()
    spend_limit_set(user=customer, monthly_limit=Decimal("100"), now=NOW - timedelta(days=20))
    order(customer, total="100.00", refunded="20.00", status=Order.Status.PARTIALLY_REFUNDED)
    order(customer, total="200.00", at=timezone.make_aware(datetime(2026, 10, 31, 23, 0)))
    order(
        customer,
        total="50.00",
        status=Order.Status.PENDING,
        reserved_until=NOW - timedelta(minutes=1),  # lapsed: holds nothing
    )
    harm_signals_scan(now=NOW)
    assert flags(customer) == []  # £80.00

    order(
        customer,
        total="10.00",
        status=Order.Status.PENDING,
        reserved_until=NOW + timedelta(minutes=10),
    )
    harm_signals_scan(now=NOW)
    assert flags(customer)[0].value == Decimal("90.00")


def test_the_set_based_spend_agrees_with_the_purchase_check():
    from accounts.models import User
    from tickets.spending import spend_position

    customers = [UserFactory() for _ in range(3)]
    spend_limit_set(user=customers[0], monthly_limit=Decimal("40"), now=NOW - timedelta(days=2))
    order(customers[0], total="12.50", refunded="2.50", status=Order.Status.PARTIALLY_REFUNDED)
    order(customers[0], total="7.50", status=Order.Status.PENDING, reserved_until=NOW)
    order(
        customers[1], total="5.00", status=Order.Status.PENDING, reserved_until=NOW + timedelta(1)
    )
    order(customers[1], total="9.99", at=NOW - timedelta(days=30))  # last month

    rows = User.objects.filter(pk__in=[c.pk for c in customers]).annotate(
        **spending.spend_annotations("pk", NOW)
    )
    for row in rows:
        assert spending.position_of(row, Decimal("1000.00")) == spend_position(row, NOW)


def test_the_operator_cap_is_the_limit_when_it_is_lower(operator):
    operator.monthly_spend_cap = Decimal("50.00")
    operator.save()
    customer = UserFactory()
    spend_limit_set(user=customer, monthly_limit=Decimal("500"), now=NOW - timedelta(days=20))
    order(customer, total="45.00")

    harm_signals_scan(now=NOW)

    [flag] = flags(customer)
    assert "90% of the operator's cap of £50.00" in flag.detail


def test_a_zero_limit_flags_any_spend_this_month_and_no_limit_never_flags(operator):
    spent_then_stopped = UserFactory()
    order(spent_then_stopped, total="5.00", at=NOW - timedelta(days=2))
    spend_limit_set(user=spent_then_stopped, monthly_limit=Decimal("0"), now=NOW - timedelta(1))
    stopped_before_spending = UserFactory()
    spend_limit_set(user=stopped_before_spending, monthly_limit=Decimal("0"), now=NOW)

    harm_signals_scan(now=NOW)

    [flag] = flags(spent_then_stopped)
    assert flag.detail == (
        "Spent £5.00 this month although their limit of £0.00 a month is now in force."
    )
    assert flags(stopped_before_spending) == []

    # No personal limit and no operator cap: nothing to measure against.
    operator.monthly_spend_cap = None
    operator.save()
    big_spender = UserFactory()
    order(big_spender, total="5000.00")
    harm_signals_scan(now=NOW)
    assert flags(big_spender) == []


# ---------------------------------------------------------------- limit raised


def test_limit_raised_counts_raises_and_removals_in_90_days():
    customer = UserFactory()

    def ask(amount, days_ago, seconds=0):
        limit = None if amount is None else Decimal(amount)
        when = NOW - timedelta(days=days_ago, seconds=seconds)
        spend_limit_set(user=customer, monthly_limit=limit, now=when)

    ask("10", 120)  # the first limit: not a raise
    ask("20", 90, seconds=1)  # a raise, one second too long ago
    ask("30", 80)  # raise 1 (compared with £20, asked before the window)
    ask("5", 70)  # lower: not counted
    ask("5", 60)  # the same: not counted
    ask(None, 50)  # removal: raise 2

    harm_signals_scan(now=NOW)
    assert flags(customer) == []

    ask("40", 1)  # after "no limit": a lower ceiling, not counted
    harm_signals_scan(now=NOW)
    assert flags(customer) == []

    ask("60", 0)  # raise 3
    harm_signals_scan(now=NOW)
    [flag] = flags(customer)
    assert (flag.rule, flag.value, flag.threshold) == (Rule.LIMIT_RAISED, 3, 3)
    assert flag.detail.startswith("Asked to raise or remove their spending limit 3 times")


# ---------------------------------------------------------------- declined payments


def test_declined_payments_in_seven_days_flag_at_the_threshold():
    customer = UserFactory()
    declined(customer, 2, at=NOW - timedelta(days=6, hours=23))
    declined(customer, 1, at=NOW - timedelta(days=7, seconds=1))  # too old
    declined(customer, 3, kind="payment_intent.succeeded")  # not a decline
    harm_signals_scan(now=NOW)
    assert flags(customer) == []

    declined(customer, 1, at=NOW - timedelta(minutes=1))
    harm_signals_scan(now=NOW)
    [flag] = flags(customer)
    assert (flag.rule, flag.value) == (Rule.DECLINED_PAYMENTS, 3)
    assert flag.detail == "3 declined card payments in the last 7 days; flags at 3."


def test_a_zero_threshold_turns_a_rule_off(operator):
    operator.harm_declined_payments = 0
    operator.save()
    customer = UserFactory()
    declined(customer, 5)
    assert harm_signals_scan(now=NOW).opened == 0


# ---------------------------------------------------------------- the scan


def test_a_second_hit_refreshes_the_open_flag_instead_of_adding_one():
    customer = UserFactory()
    buy(customer, 5, at=NOW - timedelta(hours=1))
    harm_signals_scan(now=NOW)
    buy(customer, 3)
    later = NOW + timedelta(hours=1)

    summary = harm_signals_scan(now=later)

    [flag] = flags(customer)
    assert (summary.opened, summary.refreshed) == (0, 1)
    assert flag.value == 8 and "Bought 8 paid entries" in flag.detail
    assert (flag.first_seen_at, flag.last_seen_at) == (NOW, later)


def test_a_closed_flag_stays_closed_in_the_quiet_period_unless_the_value_grows_markedly():
    customer, staff = UserFactory(), UserFactory(is_staff=True)
    buy(customer, 6, at=NOW - timedelta(hours=1))
    harm_signals_scan(now=NOW)
    [first] = flags(customer)
    harm_flag_close(
        flag=first, by=staff, outcome=Status.DISMISSED, note="Known high roller.", now=NOW
    )

    buy(customer, 2, at=NOW + timedelta(minutes=30))  # 8: less than 1.5 × 6
    summary = harm_signals_scan(now=NOW + timedelta(hours=1))
    assert (summary.opened, summary.held_back) == (0, 1)
    assert [f.status for f in flags(customer)] == [Status.DISMISSED]

    buy(customer, 1, at=NOW + timedelta(minutes=40))  # 9 = 1.5 × 6: markedly more
    assert harm_signals_scan(now=NOW + timedelta(hours=2)).opened == 1
    [again] = flags(customer, status=Status.OPEN)
    assert again.pk != first.pk and again.detail.endswith("Up from 6 when last closed (24 Nov).")
    first.refresh_from_db()
    assert first.status == Status.DISMISSED


def test_after_the_quiet_period_the_rule_flags_again():
    customer, staff = UserFactory(), UserFactory(is_staff=True)
    declined(customer, 3, at=NOW - timedelta(hours=1))
    harm_signals_scan(now=NOW)
    harm_flag_close(
        flag=flags(customer)[0], by=staff, outcome=Status.ACTIONED, note="Called.", now=NOW
    )
    declined(customer, 3, at=NOW + timedelta(days=6))  # as many as before: not markedly more

    assert harm_signals_scan(now=NOW + QUIET_PERIOD - timedelta(minutes=1)).opened == 0
    assert harm_signals_scan(now=NOW + QUIET_PERIOD).opened == 1
    assert len(flags(customer, status=Status.OPEN)) == 1


def test_a_scan_that_loses_the_race_refreshes_the_winners_flag(monkeypatch):
    customer = UserFactory()
    declined(customer, 3)
    harm_signals_scan(now=NOW)
    # As if another scan had opened the flag after this one read the open flags.
    monkeypatch.setattr(harm, "_open_flags", lambda rule: {})

    summary = harm_signals_scan(now=NOW + timedelta(minutes=1))

    [flag] = flags(customer)
    assert (summary.opened, summary.refreshed) == (0, 1)
    assert flag.last_seen_at == NOW + timedelta(minutes=1)


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_open_one_flag(on_postgres, monkeypatch):
    customer = UserFactory()
    declined(customer, 3)
    both_read = threading.Barrier(2, timeout=10)
    read_open_flags = harm._open_flags

    def read_then_wait(rule):
        found = read_open_flags(rule)
        both_read.wait()  # both scans have seen no open flag before either inserts
        return found

    monkeypatch.setattr(harm, "_open_flags", read_then_wait)
    summaries, errors = [], []

    def scan():
        try:
            summaries.append(harm_signals_scan(now=NOW))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(flags(customer, status=Status.OPEN)) == 1
    assert sorted((s.opened, s.refreshed) for s in summaries) == [(0, 1), (1, 0)]


def test_the_beat_task_and_the_command_run_the_scan():
    from harm_signals.tasks import scan_harm_signals

    customer = UserFactory()
    declined(customer, 3, at=timezone.now())

    assert scan_harm_signals.delay().get(timeout=10) == {
        "opened": 1,
        "refreshed": 0,
        "held_back": 0,
    }
    assert len(flags(customer)) == 1

    from io import StringIO

    out = StringIO()
    call_command("scan_harm_signals", stdout=out)
    assert out.getvalue().startswith("Harm signals: 0 new flags, 1 open flag refreshed")


def test_beat_runs_the_scan_hourly():
    [entry] = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "harm_signals.tasks.scan_harm_signals"
    ]
    assert entry["schedule"] == timedelta(hours=1)


# ---------------------------------------------------------------- staff workflow (services)


@pytest.fixture
def flag(db):
    customer = UserFactory(email="jo.bloggs@example.com", first_name="Jo", last_name="Bloggs")
    declined(customer, 3, at=timezone.now())
    harm_signals_scan()
    return HarmFlag.objects.get(user=customer)


@pytest.fixture
def staff(db):
    return UserFactory(email="support@fairdraw.example", is_staff=True)


def audit(action, flag):
    return list(AuditEntry.objects.filter(action=action, object_id=str(flag.pk)))


def test_notes_and_contacts_are_kept_with_an_audit_entry(flag, staff):
    harm_flag_add_note(flag=flag, by=staff, note="Left a voicemail.")
    harm_flag_add_note(flag=flag, by=staff, note="Spoke to Jo: card expired.", contacted=True)

    kinds = [(a.kind, a.note, a.actor) for a in flag.actions.order_by("at", "id")]
    assert kinds == [
        (HarmAction.Kind.NOTE, "Left a voicemail.", staff),
        (HarmAction.Kind.CONTACTED, "Spoke to Jo: card expired.", staff),
    ]
    [entry] = audit("harm_flag.contacted", flag)
    assert entry.actor == staff and entry.note == "Spoke to Jo: card expired."
    with pytest.raises(ValidationError) as refused:
        harm_flag_add_note(flag=flag, by=staff, note="   ")
    assert "note" in refused.value.error_dict


def test_closing_needs_a_note_and_an_outcome_and_happens_once(flag, staff):
    with pytest.raises(ValidationError):
        harm_flag_close(flag=flag, by=staff, outcome=Status.DISMISSED, note="")
    with pytest.raises(ValidationError):
        harm_flag_close(flag=flag, by=staff, outcome=Status.OPEN, note="Hmm")
    flag.refresh_from_db()
    assert flag.status == Status.OPEN and not flag.actions.exists()

    harm_flag_close(flag=flag, by=staff, outcome=Status.DISMISSED, note="Card expired; fine.")

    flag.refresh_from_db()
    assert (flag.status, flag.closed_by) == (Status.DISMISSED, staff) and flag.closed_at
    assert flag.actions.get().kind == HarmAction.Kind.DISMISSED
    [entry] = audit("harm_flag.dismissed", flag)
    assert (entry.before["status"], entry.after["status"]) == ("open", "dismissed")
    with pytest.raises(ValidationError, match="already closed"):
        harm_flag_close(flag=flag, by=staff, outcome=Status.ACTIONED, note="Again")


def test_reopening_is_refused_while_a_newer_flag_is_open(flag, staff):
    harm_flag_close(flag=flag, by=staff, outcome=Status.ACTIONED, note="Called.")
    newer = HarmFlag.objects.create(user=flag.user, rule=flag.rule, detail="Newer")
    with pytest.raises(ValidationError, match=f"#{newer.pk}"):
        harm_flag_reopen(flag=flag, by=staff, note="Not resolved after all.")

    newer.delete()
    harm_flag_reopen(flag=flag, by=staff, note="Not resolved after all.")
    flag.refresh_from_db()
    assert (flag.status, flag.closed_at, flag.closed_by) == (Status.OPEN, None, None)
    assert len(audit("harm_flag.reopened", flag)) == 1


def test_setting_a_limit_from_a_flag_uses_the_limit_rules(flag, staff):
    customer = flag.user
    now = timezone.now()
    harm_flag_set_limit(
        flag=flag, by=staff, monthly_limit=Decimal("20"), note="Agreed on the phone.", now=now
    )

    assert monthly_limit_for(customer, now) == Decimal("20.00")
    request = SpendLimit.objects.get(user=customer)
    assert request.created_by == staff and request.effective_at == now
    action = flag.actions.get()
    assert action.kind == HarmAction.Kind.LIMIT_SET
    assert action.note == "£20.00 a month, in force now. Agreed on the phone."
    [entry] = audit("harm_flag.limit_set", flag)
    assert entry.before == {"monthly_limit": None}
    assert entry.after["monthly_limit"] == "20.00" and entry.actor == staff

    # A higher limit waits for the cooling-off, whoever asks.
    raised = harm_flag_set_limit(
        flag=flag, by=staff, monthly_limit=Decimal("80"), note="Affordability checked.", now=now
    )
    assert raised.effective_at == now + timedelta(hours=24)
    assert monthly_limit_for(customer, now) == Decimal("20.00")


def test_a_break_from_a_flag_stops_purchases_and_is_audited_twice(flag, staff):
    now = timezone.now()
    customer = harm_flag_impose_break(
        flag=flag, by=staff, kind=ExclusionKind.BREAK, length=7, note="Asked for a pause.", now=now
    )

    assert customer.is_excluded(now) and not customer.may_purchase(now)
    assert customer.excluded_until == now + timedelta(days=7)
    assert flag.actions.get().kind == HarmAction.Kind.BREAK
    assert len(audit("harm_flag.break", flag)) == 1
    [on_customer] = AuditEntry.objects.filter(action="user.break", object_id=str(customer.pk))
    assert on_customer.actor == staff

    with pytest.raises(ValidationError) as too_long:
        harm_flag_impose_break(flag=flag, by=staff, kind="break", length=60, note="x", now=now)
    assert "length" in too_long.value.error_dict
    harm_flag_impose_break(
        flag=flag, by=staff, kind=ExclusionKind.SELF_EXCLUSION, length=6, note="Asked.", now=now
    )
    with pytest.raises(ValidationError, match="customer already has a longer break"):
        harm_flag_impose_break(flag=flag, by=staff, kind="break", length=3, note="x", now=now)


# ---------------------------------------------------------------- back-office pages


@pytest.fixture
def support_user(db):
    user = UserFactory(email="sam@fairdraw.example", first_name="Sam", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


@pytest.fixture
def support(support_user):
    client = Client()
    client.force_login(support_user)
    return client


CHANGELIST = "admin:harm_signals_harmflag_changelist"


def act_url(flag, what):
    return reverse("admin:harm_signals_harmflag_act", args=[flag.pk, what])


def spender(total="95.00", limit="100") -> HarmFlag:
    customer = UserFactory()
    spend_limit_set(user=customer, monthly_limit=Decimal(limit))
    order(customer, total=total, at=timezone.now())
    harm_signals_scan()
    return HarmFlag.objects.get(user=customer)


def test_support_group_may_act_on_harm_flags():
    codes = set(Group.objects.get(name="Support").permissions.values_list("codename", flat=True))
    assert {"view_harmflag", "change_harmflag", "view_harmaction"} <= codes


def test_changelist_shows_flags_with_spend_and_filters_in_constant_queries(support, flag):
    spent = spender()
    url = reverse(CHANGELIST)

    with CaptureQueriesContext(connection) as few:
        response = support.get(url)
    html = response.content.decode()
    assert response.status_code == 200 and "Harm signals" in html
    assert "Jo Bloggs<br>jo.bloggs@example.com" in html
    assert "3 declined card payments in the last 7 days" in html
    assert "£95.00 of £100.00" in html and "£0.00 of £1,000.00" in html

    for _ in range(3):
        spender()
    with CaptureQueriesContext(connection) as many:
        support.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)

    only = support.get(url + "?rule__exact=spend_vs_limit&status__exact=open")
    assert spent in only.context["cl"].result_list
    assert flag not in only.context["cl"].result_list


def test_flag_page_shows_the_customer_history_and_the_forms(support, flag, support_user):
    harm_flag_add_note(flag=flag, by=support_user, note="Watching this one.")
    spend_limit_set(user=flag.user, monthly_limit=Decimal("300"))
    html = support.get(
        reverse("admin:harm_signals_harmflag_change", args=[flag.pk])
    ).content.decode()

    assert "Limit in force: <strong>£300.00</strong>" in html
    assert "Spent this month: <strong>£0.00</strong>" in html
    assert "Break or exclusion: None" in html
    assert f"?user__id__exact={flag.user.pk}" in html  # the customer's orders
    assert "Watching this one." in html
    for heading in ("Add a note", "Close this flag", "Set a spend limit", "Impose a break"):
        assert heading in html
    assert "Reopen this flag" not in html
    assert 'name="_save"' not in html  # the flag itself isn't edited by hand


def test_staff_close_and_reopen_from_the_page(support, flag, support_user):
    change = reverse("admin:harm_signals_harmflag_change", args=[flag.pk])

    refused = support.post(act_url(flag, "close"), {"close-outcome": "dismissed", "close-note": ""})
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    flag.refresh_from_db()
    assert flag.status == Status.OPEN

    done = support.post(
        act_url(flag, "close"), {"close-outcome": "dismissed", "close-note": "Card expired."}
    )
    assert done.status_code == 302 and done["Location"] == change
    flag.refresh_from_db()
    assert (flag.status, flag.closed_by) == (Status.DISMISSED, support_user)
    assert audit("harm_flag.dismissed", flag)[0].actor == support_user

    html = support.get(change).content.decode()
    assert "Reopen this flag" in html and "Close this flag" not in html
    support.post(act_url(flag, "reopen"), {"reopen-note": "Declines continue."})
    flag.refresh_from_db()
    assert flag.status == Status.OPEN


def test_note_limit_and_break_from_the_page(support, flag, support_user):
    support.post(act_url(flag, "note"), {"note-note": "Called Jo.", "note-contacted": "on"})
    support.post(
        act_url(flag, "limit"), {"limit-monthly_limit": "25.00", "limit-note": "Agreed with Jo."}
    )
    support.post(
        act_url(flag, "break"),
        {"break-kind": "break", "break-length": "14", "break-note": "Jo asked for a pause."},
    )

    assert [a.kind for a in flag.actions.order_by("at", "id")] == [
        HarmAction.Kind.CONTACTED,
        HarmAction.Kind.LIMIT_SET,
        HarmAction.Kind.BREAK,
    ]
    customer = flag.user
    customer.refresh_from_db()
    assert monthly_limit_for(customer) == Decimal("25.00")
    assert customer.exclusion_kind == ExclusionKind.BREAK and customer.is_excluded()

    # A break out of range is shown beside the field, and nothing happens.
    response = support.post(
        act_url(flag, "break"),
        {"break-kind": "break", "break-length": "43", "break-note": "Longer."},
    )
    assert "A break lasts from 1 to 42 days." in response.content.decode()
    assert flag.actions.count() == 3


def test_people_without_the_permission_cannot_act(flag, db):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_harmflag"))
    client = Client()
    client.force_login(viewer)

    html = client.get(
        reverse("admin:harm_signals_harmflag_change", args=[flag.pk])
    ).content.decode()
    assert "jo.bloggs@example.com" in html and "Act on this flag" not in html
    assert client.post(act_url(flag, "note"), {"note-note": "x"}).status_code == 403

    customer = Client()
    customer.force_login(UserFactory())
    response = customer.post(act_url(flag, "close"), {"close-outcome": "dismissed"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not flag.actions.exists()


def test_user_page_shows_the_spend_limits_panel_and_harm_flags(support, flag):
    customer = flag.user
    now = timezone.now()
    spend_limit_set(user=customer, monthly_limit=Decimal("50"), now=now - timedelta(days=3))
    spend_limit_set(user=customer, monthly_limit=Decimal("200"), now=now - timedelta(hours=1))
    order(customer, total="12.50", at=now)

    html = support.get(reverse("admin:accounts_user_change", args=[customer.pk])).content.decode()

    assert "Limit in force: <strong>£50.00</strong> a month" in html
    assert "Their own limit: £50.00; operator's cap: £1,000.00" in html
    assert "Spent this month: <strong>£12.50</strong>; left: £37.50" in html
    pending = timezone.localtime(now - timedelta(hours=1) + timedelta(hours=24))
    assert f"Pending change: £200.00, in force from {pending:%-d %b %Y %H:%M}" in html
    assert "Waiting for the cooling-off" in html and "In force" in html
    assert "Many declined payments" in html
    assert reverse("admin:harm_signals_harmflag_change", args=[flag.pk]) in html
