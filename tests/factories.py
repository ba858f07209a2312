"""Factories for domain rows. Build what a test needs, nothing the test does not care about."""

import re
from datetime import date, timedelta
from decimal import Decimal

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.test import Client
from django.utils import timezone

from competitions.models import AnswerChoice, Competition, Prize
from competitions.services import competition_activate
from tickets.models import Ticket

PASSWORD = "pw"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "accounts.User"
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = date(1990, 5, 17)
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def email_verified(obj, create, extracted, **kwargs):
        """Customers have confirmed their e-mail unless `email_verified=False`."""
        if create:
            EmailAddress.objects.create(
                user=obj, email=obj.email, primary=True, verified=extracted is not False
            )

    @factory.post_generation
    def second_factor(obj, create, extracted, **kwargs):
        """Staff have an authenticator app (accounts.middleware) unless `second_factor=False`."""
        if create and obj.is_staff and extracted is not False:
            totp_activate(obj)

    class Params:
        # Born on 1 January seventeen years ago: 17 on every day of this year.
        minor = factory.Trait(
            date_of_birth=factory.LazyFunction(lambda: date(timezone.localdate().year - 17, 1, 1))
        )
        banned = factory.Trait(
            is_banned=True,
            banned_at=factory.LazyFunction(timezone.now),
            ban_reason="Chargeback fraud",
        )


# A fixed authenticator-app secret for test staff (base32).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"


def totp_activate(user, secret: str = TOTP_SECRET) -> str:
    """Give `user` an authenticator app, as allauth's set-up page does; returns its secret."""
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str = TOTP_SECRET, at=None) -> str:
    """The code the authenticator app shows now (allauth's own HOTP helper, 30 s steps)."""
    moment = at or timezone.now()
    return format_hotp_value(hotp_value(secret, int(moment.timestamp()) // 30))


def client_for(user) -> Client:
    """A test client logged in as `user` (the login step is not what the test is about)."""
    client = Client()
    client.force_login(user)
    return client


class CompetitionFactory(factory.django.DjangoModelFactory):
    """A draft on sale from yesterday until a week from now, drawn when it ends."""

    class Meta:
        model = Competition

    title = factory.Sequence(lambda n: f"Win a Porsche 911 #{n}")
    slug = factory.Sequence(lambda n: f"win-a-porsche-911-{n}")
    prize_description = "A 2024 Porsche 911 Carrera in Guards Red."
    prize_value = Decimal("95000.00")
    ticket_price = Decimal("2.50")
    max_tickets = 100
    max_tickets_per_user = 20
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    draw_at = factory.LazyAttribute(lambda o: o.ends_at)
    question = "What is the capital of Scotland?"


class AnswerChoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnswerChoice

    competition = factory.SubFactory(CompetitionFactory)
    text = factory.Sequence(lambda n: f"Answer {n}")
    is_correct = False
    position = factory.Sequence(lambda n: n)


class PrizeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prize

    competition = factory.SubFactory(CompetitionFactory)
    kind = Prize.Kind.DRAW
    position = 1
    title = factory.Sequence(lambda n: f"Prize {n}")
    value = Decimal("1000.00")


class TicketFactory(factory.django.DjangoModelFactory):
    """A free postal entry (needs no order); pass `order=` and `source="paid"` for a paid one."""

    class Meta:
        model = Ticket

    competition = factory.SubFactory(CompetitionFactory)
    number = factory.Sequence(lambda n: n + 1)
    user = factory.SubFactory(UserFactory)
    status = Ticket.Status.ACTIVE
    source = Ticket.Source.POSTAL
    purchased_at = factory.LazyFunction(timezone.now)
    refunded_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.status == Ticket.Status.REFUNDED else None
    )


def draft_ready_to_activate(*, prizes: int = 1, **kw) -> Competition:
    """A draft with a three-answer skill question (one correct) and `prizes` draw prizes."""
    competition = CompetitionFactory(**kw)
    AnswerChoiceFactory(competition=competition, text="Edinburgh", is_correct=True, position=0)
    AnswerChoiceFactory(competition=competition, text="Glasgow", position=1)
    AnswerChoiceFactory(competition=competition, text="Aberdeen", position=2)
    for position in range(1, prizes + 1):
        PrizeFactory(competition=competition, position=position)
    return competition


def active_competition(*, now=None, prizes: int = 1, **kw) -> Competition:
    """A competition activated through the real service (seed committed), on sale by default."""
    competition = draft_ready_to_activate(prizes=prizes, **kw)
    return competition_activate(competition=competition, now=now or timezone.now())


def correct_answer(competition: Competition) -> AnswerChoice:
    return competition.answers.get(is_correct=True)


def wrong_answer(competition: Competition) -> AnswerChoice:
    return competition.answers.filter(is_correct=False).first()


def beacon_rebind(competition: Competition) -> Competition:
    """For tests that move a competition's close with a bare update (pretending time passed):
    move its announced beacon round with it, as if activation had seen that close."""
    from django.conf import settings

    from draws.beacon import round_at_or_after
    from draws.models import DrawLogEntry

    ends_at = Competition.objects.values_list("ends_at", flat=True).get(pk=competition.pk)
    margin = timedelta(seconds=settings.FAIRDRAW_BEACON_MARGIN_SECONDS)
    number = round_at_or_after(ends_at + margin)
    Competition.objects.filter(pk=competition.pk).update(beacon_round=number)
    DrawLogEntry.objects.create(
        competition_id=competition.pk,
        action="beacon_round_moved",
        message="Beacon round moved with the close (test).",
        data={"round": number},
    )
    competition.refresh_from_db()
    return competition


# A stored status other than draft needs a published commitment (database constraint).
FAKE_COMMITMENT = "ab" * 32


def operator_settings(**changes):
    """Set some of the operator's settings as a test's starting point (not audited: the
    admin's audited path is core.operator.operator_settings_update)."""
    from core.models import OperatorSettings

    OperatorSettings.ensure()
    OperatorSettings.objects.filter(pk=1).update(**changes)
    return OperatorSettings.current()


__all__ = [
    "FAKE_COMMITMENT",
    "PASSWORD",
    "AnswerChoiceFactory",
    "CompetitionFactory",
    "PrizeFactory",
    "TicketFactory",
    "UserFactory",
    "active_competition",
    "beacon_rebind",
    "correct_answer",
    "draft_ready_to_activate",
    "operator_settings",
    "wrong_answer",
]


def instant_win_competition(*, instant=(("£10 cash", "10.00", 5),), now=None, **kw) -> Competition:
    """An active competition (a £1,000 draw prize) with instant-win prizes, given as
    (title, value, count), attached by staff before activation and numbered by the seed."""
    competition = draft_ready_to_activate(**kw)
    for title, value, count in instant:
        PrizeFactory(
            competition=competition,
            kind=Prize.Kind.INSTANT,
            position=None,
            title=title,
            value=Decimal(value),
            quantity=count,
        )
    return competition_activate(competition=competition, now=now or timezone.now())


def instant_numbers(competition: Competition) -> list[int]:
    """The secret instant-win numbers (tests only: nothing public shows them before won)."""
    return list(competition.instant_wins.order_by("number").values_list("number", flat=True))


def shows_number(number: int, text: str) -> bool:
    """Whether `text` shows `number` as a number (plain or with thousands commas), not as a
    digit run inside a hash, token or longer number."""
    forms = {str(number), f"{number:,}"}
    return any(re.search(rf"(?<![\w,.]){re.escape(form)}(?![\w,])", text) for form in forms)


def force_lucky_dip(monkeypatch, *numbers):
    """Make lucky dips land on these numbers (an instant-win one, in the tests): both ways a
    lucky dip picks, the sampled candidates (PostgreSQL) and the picker (allocation.lucky_dip)."""
    from tickets import allocation

    monkeypatch.setattr(allocation, "lucky_dip", lambda **kw: sorted(numbers)[: kw["quantity"]])
    monkeypatch.setattr(allocation, "lucky_candidates", lambda **kw: sorted(numbers))
