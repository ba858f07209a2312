"""What the customer's account tells the outside world: their marketing profile and consent
at Klaviyo.

Called inside the transaction that changes the consent, so the outbox row commits or rolls
back with it (see notifications.outbox)."""

from django.utils import timezone

from notifications.outbox import enqueue, profile_message


def profile_updated(user) -> None:
    """Bring the customer's Klaviyo profile and marketing consent in line with ours: subscribe
    when they consent, unsubscribe when they withdraw (or are excluded). Call it whenever
    marketing_consent changes, and at sign-up with consent."""
    subscribed = bool(user.marketing_consent)
    stamp = (user.marketing_consent_at or timezone.now()).isoformat()
    enqueue(
        [
            profile_message(
                user=user,
                subscribed=subscribed,
                key=f"profile-{user.pk}-{'subscribed' if subscribed else 'unsubscribed'}-{stamp}",
            )
        ]
    )
