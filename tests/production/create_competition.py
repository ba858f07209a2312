"""What an operator does before opening the site: one competition with a picture, a skill
question and a prize, created and activated through the competition services, as the admin
would. Production refuses `seed_demo`, so the production journey test runs this with
`manage.py shell -c` under the production settings and reads the JSON line it prints.
"""

import io
import json
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from competitions.models import AnswerChoice, Competition, CompetitionImage, Prize
from competitions.services import competition_activate, competition_create

operator = get_user_model().objects.get(email="operator@fairdraw.example")
now = timezone.now()
competition = competition_create(
    competition=Competition(
        title="Win a Land Rover Defender 110",
        slug="land-rover-defender-110",
        prize_description="A 2024 Land Rover Defender 110 in Pangea Green.",
        prize_value=Decimal("72000.00"),
        ticket_price=Decimal("1.99"),
        max_tickets=500,
        max_tickets_per_user=50,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=7),
        draw_at=now + timedelta(days=7),
        question="How many wheels does a Land Rover Defender have on the road?",
    ),
    by=operator,
)
for position, (text, correct) in enumerate([("Four", True), ("Three", False), ("Six", False)]):
    AnswerChoice.objects.create(
        competition=competition, text=text, is_correct=correct, position=position
    )
Prize.objects.create(
    competition=competition,
    kind=Prize.Kind.DRAW,
    position=1,
    title="Land Rover Defender 110",
    value=Decimal("72000.00"),
)
picture = io.BytesIO()
Image.new("RGB", (1200, 800), (46, 84, 62)).save(picture, "JPEG", quality=80)
image = CompetitionImage(competition=competition, position=0, alt_text="A green Defender 110")
image.image.save("defender-110.jpg", ContentFile(picture.getvalue()), save=True)
competition = competition_activate(competition=competition, by=operator)
answer = competition.answers.get(is_correct=True)
print(
    json.dumps(
        {
            "id": competition.pk,
            "slug": competition.slug,
            "title": competition.title,
            "answer": answer.text,
        }
    )
)
