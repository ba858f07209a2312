"""What operators and marketing hear about competitions, and how a competition appears in
the messages other domains write (Klaviyo properties, image links).

Called inside the transaction that makes the change, so the outbox rows commit or roll back
with it (see notifications.outbox)."""

from notifications.outbox import absolute_url, admin_alert, local_time

from .models import CompetitionImage


def image_url(competition) -> str:
    """The competition's first image as a link a message can carry ("" when it has none)."""
    image = competition.images.order_by("position").first()
    return absolute_url(image.image.url) if image and image.image else ""


def image_urls(competitions) -> dict[int, str]:
    """`image_url` of several competitions in one query, by competition id."""
    urls: dict[int, str] = {}
    images = CompetitionImage.objects.filter(competition__in=[c.pk for c in competitions])
    for image in images.order_by("competition_id", "position", "pk"):
        urls.setdefault(image.competition_id, absolute_url(image.image.url) if image.image else "")
    return urls


def competition_properties(competition, image: str | None = None) -> dict:
    """The competition in Klaviyo's event properties. `image`: its `image_url`, if known."""
    return {
        "CompetitionID": competition.pk,
        "CompetitionName": competition.title,
        "CompetitionURL": absolute_url(competition.get_absolute_url()),
        "ImageURL": image_url(competition) if image is None else image,
        "PrizeValue": float(competition.prize_value),
        "TicketPrice": float(competition.ticket_price),
        "EndsAt": competition.ends_at.isoformat(),
        "DrawAt": competition.draw_at.isoformat(),
    }


def sold_out(competition) -> None:
    """Every ticket of a competition is sold (call it in the sale that sold the last one)."""
    admin_alert(
        subject=f"Sold out: {competition.title}",
        message=(
            f"All {competition.max_tickets} tickets of \u201c{competition.title}\u201d are sold. "
            f"Sales are closed; the draw is due {local_time(competition.draw_at)}.\n"
            f"{absolute_url(competition.get_absolute_url())}"
        ),
        key=f"sold-out-{competition.pk}",
    )
