"""The outbox, just above core and below every domain: it stores messages, claims and sends
each exactly once after commit, retries what failed, and owns the transports (e-mail, Twilio,
Klaviyo). It knows no domain: each app builds its own messages in its `events.py` from the
pieces in `outbox.py` (tickets: orders and refunds; winners; draws; competitions; complaints;
accounts: marketing consent) and queues them in its own transaction.

- outbox.py      the API domains use: message builders per channel, `enqueue`, `admin_alert`
- services.py    enqueueing, claiming, sending, retries with back-off, the sweeper
- transports.py  one small class per channel and provider
- models.py      the outbox row (Notification)
- tasks.py       thin Celery tasks calling services
"""
