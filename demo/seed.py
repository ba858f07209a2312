"""Demo data for the embedded default (`manage.py seed_demo`).

Everything goes through the real services, so demo tickets obey the same rules as real ones
and every drawn demo competition verifies. Times are relative to now: a competition closing
within the hour, one nearly sold out, upcoming, ended and drawn ones with published winners.
"""

import io
import math
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.models import User, VerificationMethod
from accounts.services import user_email_verify
from competitions.models import (
    AnswerChoice,
    Bundle,
    Competition,
    CompetitionImage,
    InstantWin,
    Prize,
)
from competitions.services import competition_activate, competition_sync_statuses
from core.models import OperatorSettings
from draws.models import Draw, DrawLogEntry
from draws.services import draw_perform
from draws.verification import verify_and_record
from tickets.models import (
    DiscountCode,
    DiscountRedemption,
    Order,
    OrderLine,
    PostalEntry,
    Receipt,
    Ticket,
)
from tickets.services import order_record_paid, postal_entry_add
from winners.models import Winner
from winners.services import winner_approve, winner_publish

DEMO_EMAIL_DOMAIN = "demo.fairdraw.example"
FIRST_NAMES = [
    "Sarah", "James", "Amelia", "Oliver", "Priya", "Liam", "Grace", "Mohammed", "Chloe", "Harry",
    "Emily", "Daniel", "Sophie", "Jack", "Aisha", "Thomas", "Megan", "Ryan", "Hannah", "Kwame",
]  # fmt: skip
LAST_NAMES = [
    "Khan",
    "Turner",
    "Hughes",
    "Bennett",
    "Patel",
    "O'Connor",
    "Robertson",
    "Ali",
    "Evans",
]
TOWNS = ["Leeds", "Bristol", "Cardiff", "Manchester", "Leicester", "Belfast", "Glasgow", "Norwich"]
CUSTOMERS = [
    (first, LAST_NAMES[(i * 7 + j) % len(LAST_NAMES)], TOWNS[(i + j * 3) % len(TOWNS)])
    for j in range(6)
    for i, first in enumerate(FIRST_NAMES)
]
# What each demo customer spends at most in the month the demo sales fall in: under the
# operator's usual cap, so the demo looks like customers keeping to the rules (a few come close
# enough for the harm-signal list to have something to show).
DEMO_BUDGETS = [Decimal(x) for x in ("120", "200", "300", "450", "600", "750", "960")]
CUSTOMER_PASSWORD = "demo-customer-pass"


@dataclass
class DemoCompetition:
    slug: str
    title: str
    summary: str
    prize: str
    value: str
    price: str
    max_tickets: int
    per_user: int
    colours: tuple[str, str]
    question: str
    answers: tuple[str, str, str]
    starts: timedelta  # relative to now
    ends: timedelta
    sell: int = 0  # tickets to sell
    cash: str | None = None
    featured: bool = False
    activate: bool = True
    draw: bool = False
    auto_draw: bool = True  # off: stays "ended" until staff press "Perform draw now"
    extra_prizes: list[tuple[str, str]] = field(default_factory=list)
    bundles: tuple[tuple[int, str], ...] = ()  # multi-buy prices: (tickets, price)
    # Share of paid orders answering the skill question wrongly. A very easy question shows
    # the back-office's "too easy?" warning (competitions.selectors.skill_answer_summary).
    wrong_answers: float = 0.18
    # Instant wins as (title, value, count); `instant_won` of their numbers are bought on
    # purpose (lucky dips may hit others), and those winners approved and published.
    instant_prizes: list[tuple[str, str, int]] = field(default_factory=list)
    instant_won: int = 0


DEMOS = [
    DemoCompetition(
        slug="porsche-911-carrera-t",
        title="Porsche 911 Carrera T",
        summary="Six-speed manual, Guards Red, delivered to your door.",
        prize="A brand-new Porsche 911 Carrera T in Guards Red with the sports exhaust and "
        "a six-speed manual gearbox. Road tax and a year's insurance included.",
        value="118500",
        cash="105000",
        price="4.99",
        bundles=((5, "22.50"), (10, "40.00"), (25, "90.00")),
        max_tickets=9999,
        per_user=150,
        colours=("#b3001b", "#3d0008"),
        question="How many wheels does a car have?",
        answers=("Three", "Four", "Six"),
        starts=-timedelta(days=6),
        ends=timedelta(days=5, hours=3),
        sell=4200,
        featured=True,
        wrong_answers=0.03,
    ),
    DemoCompetition(
        slug="10000-tax-free-cash",
        title="£10,000 Tax-Free Cash",
        summary="Paid straight into your bank account.",
        prize="£10,000 paid by bank transfer within 48 hours of the draw.",
        value="10000",
        price="0.99",
        bundles=((5, "4.00"), (10, "7.50")),
        max_tickets=4000,
        per_user=200,
        colours=("#0a7d43", "#03301a"),
        question="Which of these is a UK bank note?",
        answers=("£3", "£20", "£15"),
        starts=-timedelta(days=6),
        ends=timedelta(minutes=45),
        sell=3150,
        featured=True,
    ),
    DemoCompetition(
        slug="iphone-17-pro-max",
        title="iPhone 17 Pro Max 1TB",
        summary="Nearly gone: only a handful of tickets left.",
        prize="iPhone 17 Pro Max with 1TB storage in Deep Blue, unlocked, with AppleCare+.",
        value="1999",
        cash="1700",
        price="1.49",
        bundles=((5, "6.50"), (20, "24.00")),
        max_tickets=300,
        per_user=30,
        colours=("#1d3f8f", "#0b1433"),
        question="What is 7 + 5?",
        answers=("11", "12", "13"),
        starts=-timedelta(days=4),
        ends=timedelta(days=2, hours=6),
        sell=291,
    ),
    DemoCompetition(
        slug="playstation-5-pro-bundle",
        title="PlayStation 5 Pro Bundle",
        summary="Console, two controllers and five games.",
        prize="PlayStation 5 Pro, two DualSense controllers and five of this year's top games.",
        value="1150",
        cash="950",
        price="0.79",
        max_tickets=2500,
        per_user=100,
        colours=("#2c2f8f", "#10112e"),
        question="How many days are in a week?",
        answers=("Five", "Seven", "Ten"),
        starts=-timedelta(days=1),
        ends=timedelta(days=9),
        sell=640,
        extra_prizes=[("£100 PlayStation Store credit", "100")],
        instant_prizes=[("£25 PlayStation Store credit", "25", 10), ("£5 cash", "5", 30)],
        instant_won=4,
    ),
    DemoCompetition(
        slug="rolex-submariner-date",
        title="Rolex Submariner Date",
        summary="Opens on Friday: set a reminder.",
        prize="Rolex Submariner Date, 41mm, Oystersteel with black dial, boxed with papers.",
        value="10250",
        cash="9000",
        price="2.99",
        max_tickets=5000,
        per_user=100,
        colours=("#0f5c4d", "#062620"),
        question="How many minutes are in an hour?",
        answers=("Sixty", "Thirty", "Ninety"),
        starts=timedelta(days=2),
        ends=timedelta(days=12),
        featured=True,
    ),
    DemoCompetition(
        slug="range-rover-sport",
        title="Range Rover Sport Dynamic SE",
        summary="Closed: the draw takes place shortly.",
        prize="Range Rover Sport Dynamic SE in Santorini Black with the panoramic roof.",
        value="89000",
        cash="78000",
        price="3.99",
        max_tickets=6000,
        per_user=150,
        colours=("#3a3f45", "#111315"),
        question="Which of these is a colour?",
        answers=("Green", "Tuesday", "Seven"),
        starts=-timedelta(days=10),
        ends=-timedelta(hours=2),
        sell=2380,
        auto_draw=False,
    ),
    DemoCompetition(
        slug="tesla-model-3-long-range",
        title="Tesla Model 3 Long Range",
        summary="Drawn: congratulations to our winner!",
        prize="Tesla Model 3 Long Range AWD in Pearl White with the premium interior.",
        value="49990",
        cash="42000",
        price="2.49",
        bundles=((10, "22.00"),),
        max_tickets=3000,
        per_user=150,
        colours=("#5a6470", "#1c2026"),
        question="What do cars run on?",
        answers=("Wheels", "Wings", "Sails"),
        starts=-timedelta(days=20),
        ends=-timedelta(days=6),
        sell=1840,
        draw=True,
    ),
    DemoCompetition(
        slug="macbook-pro-16",
        title='MacBook Pro 16" M5 Max',
        summary="Drawn: two winners this time.",
        prize="MacBook Pro 16-inch with M5 Max, 64GB memory and 2TB storage.",
        value="4199",
        cash="3600",
        price="0.99",
        max_tickets=1500,
        per_user=100,
        colours=("#6b6f76", "#202226"),
        question="Which of these is a fruit?",
        answers=("Apple", "Brick", "Cloud"),
        starts=-timedelta(days=14),
        ends=-timedelta(days=2),
        sell=980,
        draw=True,
        extra_prizes=[("AirPods Pro", "249")],
        instant_prizes=[("£20 Apple gift card", "20", 10)],
        instant_won=3,
    ),
    DemoCompetition(
        slug="dream-holiday-maldives",
        title="Dream Holiday to the Maldives",
        summary="Being prepared by our team.",
        prize="Ten nights for two in an overwater villa, flights and transfers included.",
        value="14000",
        cash="12000",
        price="1.99",
        max_tickets=8000,
        per_user=150,
        colours=("#0d7ea8", "#05324a"),
        question="Which of these is an ocean?",
        answers=("Indian", "Sahara", "Alps"),
        starts=timedelta(days=7),
        ends=timedelta(days=21),
        activate=False,
    ),
]


def prize_image(title: str, colours: tuple[str, str], variant: int) -> bytes:
    """A 1200×800 JPEG: a diagonal gradient, soft shapes and the prize title."""
    width, height = 1200, 800
    top, bottom = (Image.new("RGB", (1, 1), c).getpixel((0, 0)) for c in colours)
    # A small diagonal gradient, smoothly scaled up: fast and free of banding.
    small = Image.new("RGB", (12, 8))
    for y in range(8):
        for x in range(12):
            t = min(1.0, (x / 11) * 0.35 + (y / 7) * 0.65)
            small.putpixel(
                (x, y), tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
            )
    image = small.resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image, "RGBA")
    rng = random.Random(f"{title}-{variant}")
    for _ in range(7):
        r = rng.randint(80, 260)
        cx, cy = rng.randint(0, width), rng.randint(0, height)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 255, 255, rng.randint(10, 28)))
    # A ticket emblem rather than text: the page already shows the title, and the built-in
    # font lacks glyphs such as "£".
    cx, cy = (width * 2) // 3 if variant == 0 else width // 3, height // 2
    w, h = 360, 200
    notch_colours = [image.getpixel((cx + side * w, cy)) for side in (-1, 1)]
    draw.rounded_rectangle((cx - w, cy - h, cx + w, cy + h), radius=36, fill=(255, 255, 255, 46))
    for side, colour in zip((-1, 1), notch_colours, strict=True):
        draw.ellipse((cx + side * w - 34, cy - 34, cx + side * w + 34, cy + 34), fill=colour)
    for y in range(cy - h + 30, cy + h - 20, 34):
        draw.rectangle((cx + 150, y, cx + 156, y + 16), fill=(255, 255, 255, 90))
    spin = rng.uniform(0, math.pi / 5)
    star = [
        (
            cx - 60 + (110 if k % 2 == 0 else 46) * math.cos(spin + k * math.pi / 5 - math.pi / 2),
            cy + (110 if k % 2 == 0 else 46) * math.sin(spin + k * math.pi / 5 - math.pi / 2),
        )
        for k in range(10)
    ]
    draw.polygon(star, fill=(255, 255, 255, 170))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def demo_customers() -> list[User]:
    customers = []
    password = make_password(CUSTOMER_PASSWORD)  # hashed once: PBKDF2 is slow on purpose
    for i, (first, last, _town) in enumerate(CUSTOMERS):
        email = demo_email(first, last)
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create(
                email=email,
                password=password,
                first_name=first,
                last_name=last,
                phone=f"+4477009{i:05d}",
                date_of_birth=date(1962 + i % 40, 1 + i % 12, 1 + i % 28),
                marketing_consent=i % 3 != 0,
                is_verified=i % 2 == 0,
                verified_at=timezone.now() if i % 2 == 0 else None,
                verification_method=VerificationMethod.ELECTRONIC if i % 2 == 0 else "",
            )
            # Demo customers have confirmed their e-mail, so they can buy straight away.
            user_email_verify(user=user)
        customers.append(user)
    return customers


def demo_email(first: str, last: str) -> str:
    return f"{first}.{last}".lower().replace("'", "") + f"@{DEMO_EMAIL_DOMAIN}"


def _town_of(user: User) -> str:
    towns = {demo_email(first, last): town for first, last, town in CUSTOMERS}
    return towns.get(user.email, "")


@contextmanager
def _operator_rules_lifted():
    """Lift the operator's monthly cap and age-verification requirement while demo sales are
    recorded, and put them back. A dozen demo customers fill whole competitions, far beyond
    what the cap lets one real customer spend. Must run inside the seeding transaction: the
    lifted values are never committed, so no real purchase can ever see them."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Demo sales must be recorded inside a transaction.")
    OperatorSettings.ensure()
    rules = OperatorSettings.objects.select_for_update().filter(pk=1)
    saved = rules.values("monthly_spend_cap", "require_age_verification").get()
    rules.update(monthly_spend_cap=None, require_age_verification=False)
    try:
        yield
    finally:
        # After a database error the whole seeding transaction rolls back, lift and all.
        if not transaction.get_connection().needs_rollback:
            rules.update(**saved)


def _sell(
    competition: Competition,
    customers: list[User],
    target: int,
    rng: random.Random,
    at,
    budgets: dict[User, Decimal],
    wrong_answers: float = 0.18,
) -> None:
    """Record paid orders until `target` tickets are sold (or no customer has room or budget
    left), spending from each customer's `budgets`; `wrong_answers` of them answer wrongly.
    Then a free postal entry, from a postcard that arrived a day or two before."""
    correct = competition.answers.get(is_correct=True)
    wrong = competition.answers.filter(is_correct=False).first()
    price = competition.ticket_price
    held = dict.fromkeys(customers, 0)
    sold = 0
    with _operator_rules_lifted():
        while sold < target:
            buyers = [
                c
                for c in customers
                if held[c] < competition.max_tickets_per_user and budgets[c] >= price
            ]
            if not buyers:
                break
            user = rng.choice(buyers)
            room = min(competition.max_tickets_per_user - held[user], int(budgets[user] // price))
            quantity = min(rng.choice([1, 3, 5, 10, 10, 25, 50]), room, target - sold)
            answer = wrong if rng.random() < wrong_answers else correct
            order_record_paid(
                user=user, competition=competition, answer=answer, quantity=quantity, now=at
            )
            held[user] += quantity
            budgets[user] -= price * quantity
            sold += quantity
        postal_entrant = min(customers, key=held.__getitem__)
        if sold < competition.max_tickets:
            postal_entry_add(
                user=postal_entrant,
                competition=competition,
                quantity=1,
                received_on=timezone.localdate(at) - timedelta(days=rng.choice([0, 1, 1, 2])),
                now=at,
            )


def _win_instantly(
    competition: Competition, customers: list[User], count: int, rng: random.Random, at
) -> None:
    """Buy `count` of the still-unwon instant-win numbers (each by a different customer, through
    the real checkout, which awards them), then approve and publish those winners with their
    towns, so the competition page shows some prizes won and some still to win."""
    unwon = InstantWin.objects.filter(competition=competition, won_at__isnull=True)
    held = set(
        competition.tickets.exclude(status=Ticket.Status.REFUNDED)
        .filter(number__in=unwon.values("number"))
        .values_list("number", flat=True)
    )  # e.g. by a wrong answer in the random sales: not entered, so not won
    numbers = sorted(set(unwon.values_list("number", flat=True)) - held)
    answer = competition.answers.get(is_correct=True)
    with _operator_rules_lifted():
        for number in rng.sample(numbers, min(count, len(numbers))):
            order_record_paid(
                user=rng.choice(customers),
                competition=competition,
                answer=answer,
                numbers=[number],
                now=at,
            )
    for winner in Winner.objects.filter(competition=competition, instant_win__isnull=False):
        winner_approve(winner=winner, now=at + timedelta(minutes=30))
        winner.location = _town_of(winner.user)
        winner.save(update_fields=["location"])
        winner_publish(winner=winner, now=at + timedelta(hours=1))


def _create(
    demo: DemoCompetition,
    customers: list[User],
    now,
    rng: random.Random,
    budgets: dict[User, Decimal],
) -> Competition:
    starts_at = now + demo.starts
    ends_at = now + demo.ends
    competition = Competition.objects.create(
        slug=demo.slug,
        title=demo.title,
        summary=demo.summary,
        prize_description=demo.prize,
        prize_value=Decimal(demo.value),
        cash_alternative=Decimal(demo.cash) if demo.cash else None,
        ticket_price=Decimal(demo.price),
        max_tickets=demo.max_tickets,
        max_tickets_per_user=demo.per_user,
        starts_at=starts_at,
        ends_at=ends_at,
        draw_at=ends_at + timedelta(minutes=5),
        is_featured=demo.featured,
        auto_draw_enabled=demo.auto_draw,
        question=demo.question,
    )
    for quantity, price in demo.bundles:
        Bundle.objects.create(competition=competition, quantity=quantity, price=Decimal(price))
    for position, text in enumerate(demo.answers):
        AnswerChoice.objects.create(
            competition=competition, text=text, position=position, is_correct=position == 1
        )
    if demo.slug in ("rolex-submariner-date", "range-rover-sport", "dream-holiday-maldives"):
        # These demos list the correct answer first, so the correct one is not always second.
        competition.answers.update(is_correct=False)
        competition.answers.filter(position=0).update(is_correct=True)
    Prize.objects.create(
        competition=competition,
        kind=Prize.Kind.DRAW,
        position=1,
        title=demo.title,
        description=demo.prize,
        value=Decimal(demo.value),
        cash_alternative=Decimal(demo.cash) if demo.cash else None,
    )
    for offset, (title, value) in enumerate(demo.extra_prizes, start=2):
        Prize.objects.create(
            competition=competition,
            kind=Prize.Kind.DRAW,
            position=offset,
            title=title,
            value=Decimal(value),
        )
    for title, value, count in demo.instant_prizes:
        Prize.objects.create(
            competition=competition,
            kind=Prize.Kind.INSTANT,
            title=title,
            value=Decimal(value),
            quantity=count,
        )
    for variant in range(2):
        image = CompetitionImage(
            competition=competition,
            position=variant,
            alt_text=f"{demo.title}, picture {variant + 1}",
        )
        image.image.save(
            f"{demo.slug}-{variant + 1}.jpg",
            ContentFile(prize_image(demo.title, demo.colours, variant)),
            save=True,
        )
    if not demo.activate:
        return competition
    opened = min(now, starts_at)
    # Demo competitions are backdated and some close within the hour, so the operator's
    # minimum open time (FAIRDRAW_MIN_OPEN_CLEAR_DAYS) is waived for them.
    competition_activate(competition=competition, now=opened, min_clear_days=0)
    if demo.sell:
        selling_at = max(opened, starts_at) + timedelta(minutes=1)
        _sell(competition, customers, demo.sell, rng, selling_at, budgets, demo.wrong_answers)
    if demo.instant_won:
        _win_instantly(competition, customers, demo.instant_won, rng, opened + timedelta(hours=1))
    if demo.draw:
        draw = draw_perform(
            competition=competition, mode=Draw.Mode.AUTOMATIC, now=ends_at + timedelta(minutes=5)
        )
        for winner in draw.winners.all():
            winner_approve(winner=winner, now=ends_at + timedelta(hours=2))
            winner.location = _town_of(winner.user)
            winner.save(update_fields=["location"])
            winner_publish(winner=winner, now=ends_at + timedelta(hours=3))
        # Checked as the hourly beat task would (How we comply counts draws that pass).
        verify_and_record(draw, now=ends_at + timedelta(hours=1))
    return competition


def seed(*, now=None, stdout=None) -> list[Competition]:
    """Create every missing demo competition. Existing ones are left as they are."""
    now = now or timezone.now()
    rng = random.Random(20261125)
    created = []
    with transaction.atomic():
        customers = demo_customers()
    budgets = {customer: rng.choice(DEMO_BUDGETS) for customer in customers}
    for demo in DEMOS:
        if Competition.objects.filter(slug=demo.slug).exists():
            continue
        with transaction.atomic():
            created.append(_create(demo, customers, now, rng, budgets))
        if stdout:
            stdout.write(f"  created {demo.title}")
    competition_sync_statuses(now=now)
    _seed_back_office(customers, now)
    _seed_codes(now)
    return created


# Discount codes customers can try in the basket (README, "Two commands").
DEMO_CODES = (
    {"code": "WELCOME10", "description": "10% off a first order", "percent": Decimal("10")},
    {
        "code": "CASH2",
        "description": "£2 off £10,000 Tax-Free Cash tickets (spend £5)",
        "kind": DiscountCode.Kind.FIXED,
        "amount": Decimal("2.00"),
        "min_spend": Decimal("5.00"),
        "competition_slug": "10000-tax-free-cash",
    },
)


def _seed_codes(now) -> None:
    for terms in DEMO_CODES:
        terms = dict(terms)
        slug = terms.pop("competition_slug", None)
        competition = Competition.objects.filter(slug=slug).first() if slug else None
        DiscountCode.objects.get_or_create(
            code=terms.pop("code"),
            defaults={
                **terms,
                "competition": competition,
                "max_uses": 1000,
                "valid_until": now + timedelta(days=90),
            },
        )


DEMO_COMPLAINTS = (
    # (customer index, days ago, category, message, replied after days, resolved after days)
    (
        1,
        9,
        "prize",
        "My prize was meant to arrive last week and I have heard nothing since the winner e-mail.",
        None,
        None,
    ),
    (
        4,
        1,
        "purchase",
        "I was charged but my basket said the reservation had run out. Do I have the tickets?",
        None,
        None,
    ),
    (
        2,
        20,
        "refund",
        "I asked for a refund on two tickets and the money has not come back to my card yet.",
        2,
        6,
    ),
    (
        5,
        16,
        "draw",
        "How do I know the draw was really random? I would like to check it myself.",
        7,
        9,
    ),
)


def _seed_back_office(customers: list[User], now) -> None:
    """Give the back-office something to show: two complaints (one already past its reply
    target), a customer who keeps raising their spending limit, and a harm-signal scan. Once
    only, like the competitions."""
    from complaints.models import Complaint
    from complaints.services import complaint_resolve, complaint_respond, complaint_submit
    from harm_signals.services import harm_signals_scan
    from responsible_play.limits import spend_limit_prompt_shown, spend_limit_set
    from responsible_play.services import user_self_exclude

    if not Complaint.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").exists():
        # Most customers met the "set a monthly limit" step when they joined; some set one,
        # and one has self-excluded (How we comply counts each).
        for index, customer in enumerate(customers):
            if index % 5:
                spend_limit_prompt_shown(user=customer, now=now - timedelta(days=40))
            if index % 6 == 1:
                spend_limit_set(
                    user=customer,
                    monthly_limit=Decimal("1500") if index % 4 else Decimal("2000"),
                    now=now - timedelta(days=30),
                )
        user_self_exclude(user=customers[-1], months=6, now=now - timedelta(days=12))
        support = _demo_support()
        # One customer who keeps raising their limit, for the harm-signal list.
        raiser = customers[7]
        for days_ago, amount in ((80, "50"), (60, "150"), (45, "400"), (35, "1000")):
            spend_limit_set(
                user=raiser, monthly_limit=Decimal(amount), now=now - timedelta(days_ago)
            )
        for index, days_ago, category, message, replied, resolved in DEMO_COMPLAINTS:
            customer = customers[index]
            received = now - timedelta(days=days_ago)
            complaint = complaint_submit(
                name=customer.get_full_name(),
                email=customer.email,
                category=category,
                message=message,
                user=customer,
                now=received,
            )
            if replied is not None:
                complaint = complaint_respond(
                    complaint=complaint,
                    by=support,
                    message="Thank you for telling us. We are looking into it and will update "
                    "you shortly.",
                    now=received + timedelta(days=replied),
                )
            if resolved is not None:
                complaint_resolve(
                    complaint=complaint,
                    by=support,
                    message="We have sorted this out: please let us know if anything is still "
                    "not right.",
                    now=received + timedelta(days=resolved),
                )
    harm_signals_scan(now=now)


def _demo_support() -> User:
    """The member of staff who answers the demo complaints. No password: nobody logs in as
    them (the demo admin is `manage.py ensure_demo_admin`)."""
    support, created = User.objects.get_or_create(
        email=f"support@{DEMO_EMAIL_DOMAIN}",
        defaults={"first_name": "Fairdraw support", "is_staff": True},
    )
    if created:
        support.set_unusable_password()
        support.save(update_fields=["password"])
    return support


@transaction.atomic
def reset() -> None:
    """Delete the demo competitions and customers (and everything hanging off them)."""
    competitions = Competition.objects.filter(slug__in=[d.slug for d in DEMOS])
    codes = DiscountCode.objects.filter(code__in=[c["code"] for c in DEMO_CODES])
    DiscountRedemption.objects.filter(code__in=codes).delete()
    codes.delete()
    Winner.objects.filter(competition__in=competitions).delete()
    Draw.objects.filter(competition__in=competitions).update(
        winning_ticket=None, status=Draw.Status.NO_ENTRIES
    )
    DrawLogEntry.objects.filter(competition__in=competitions).delete()
    Draw.objects.filter(competition__in=competitions).delete()
    PostalEntry.objects.filter(competition__in=competitions).delete()
    Ticket.objects.filter(competition__in=competitions).delete()
    orders = Order.objects.filter(lines__competition__in=competitions)
    Receipt.objects.filter(Q(order__in=orders) | Q(competition__in=competitions)).delete()
    OrderLine.objects.filter(order__in=orders).delete()
    Order.objects.filter(pk__in=orders.values("pk")).delete()
    for image in CompetitionImage.objects.filter(competition__in=competitions):
        image.image.delete(save=False)
    competitions.delete()
    from complaints.models import Complaint

    Complaint.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").delete()
    User.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}", is_staff=False).delete()
