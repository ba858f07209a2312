"""Delivery to the outside world: one small class per channel and provider, each with the same
`send(notification) -> provider_message_id` (the shape of healthchecks' hc/api/transports.py).

A transport raises `TransportError`, whose `permanent` flag says whether trying again could
help: a rejected payload or an invalid phone number never will; an outage or a timeout may.
The console backends are the embedded default: they log the message and succeed, so the outbox
records and retries exactly as it does in production. Transports never touch the database.
They know channels, not domains: a phone number is checked with core.phones, the same rule
sign-up applies, and anything else about the customer is read from the row they are given.
"""

import json
import logging
import smtplib
from email.utils import make_msgid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ApiException
from pydantic import ValidationError as PayloadInvalid
from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient
from urllib3.exceptions import HTTPError

from core.phones import phone_to_e164

from .models import Notification

logger = logging.getLogger(__name__)

# Seconds to wait for a provider; far below the sweeper's sending timeout, so a claim that
# old really means a dead worker.
PROVIDER_TIMEOUT = 10.0


class TransportError(Exception):
    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


def phone_e164(number: str) -> str:
    """The number in E.164, or a permanent TransportError saying why it cannot be texted."""
    try:
        return phone_to_e164(number)
    except ValidationError as error:
        raise TransportError(
            f"Invalid phone number {number!r}: {' '.join(error.messages)}", permanent=True
        ) from None


# --- e-mail ---------------------------------------------------------------------------------


class Email:
    """Django's mail: EMAIL_BACKEND decides (console in development, SMTP in production).

    The payload names a template (templates/notifications/email/<name>.txt, and .html when
    present), the subject and the context, rendered now so a fixed template fixes queued mail."""

    def send(self, notification: Notification) -> str:
        payload = notification.payload
        name = payload.get("template", "")
        context = {
            "site_name": settings.SITE_NAME,
            "site_url": settings.SITE_URL,
            **payload.get("context", {}),
        }
        try:
            text = render_to_string(f"notifications/email/{name}.txt", context)
        except TemplateDoesNotExist:
            raise TransportError(f"No e-mail template named {name!r}", permanent=True) from None
        try:
            html = render_to_string(f"notifications/email/{name}.html", context)
        except TemplateDoesNotExist:
            html = None

        message_id = make_msgid(domain=urlsplit(settings.SITE_URL).hostname or "fairdraw")
        subject = " ".join(str(payload.get("subject", settings.SITE_NAME)).split())
        message = EmailMultiAlternatives(
            subject=subject,
            body=text,
            to=[notification.recipient],
            headers={"Message-ID": message_id},
        )
        if html:
            message.attach_alternative(html, "text/html")
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as error:
            raise TransportError(f"Recipient refused: {error.recipients}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as error:
            raise TransportError(f"SMTP: {error}") from None
        return message_id


# --- SMS ------------------------------------------------------------------------------------


class _SMS:
    """Checks the number before any provider sees it: an invalid one fails for good."""

    def send(self, notification: Notification) -> str:
        to = phone_e164(notification.recipient)
        return self.deliver(to=to, body=notification.payload["body"], notification=notification)

    def deliver(self, *, to: str, body: str, notification: Notification) -> str:
        raise NotImplementedError


class ConsoleSMS(_SMS):
    def deliver(self, *, to, body, notification):
        logger.info("SMS to %s: %s", to, body)
        return f"console-sms-{notification.pk}"


class TwilioSMS(_SMS):
    def deliver(self, *, to, body, notification):
        if not (
            settings.TWILIO_ACCOUNT_SID
            and settings.TWILIO_AUTH_TOKEN
            and settings.TWILIO_FROM_NUMBER
        ):
            raise TransportError(
                "Twilio is not enabled: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                "TWILIO_FROM_NUMBER",
                permanent=True,
            )
        try:
            message = twilio_client().messages.create(
                to=to, from_=settings.TWILIO_FROM_NUMBER, body=body
            )
        except TwilioRestException as error:
            # 4xx is Twilio refusing this message (21211: invalid 'To' number): no retry helps.
            permanent = 400 <= error.status < 500 and error.status not in (408, 429)
            raise TransportError(
                f"Twilio {error.status} (error {error.code}): {error.msg}", permanent
            ) from None
        except (RequestException, TwilioException) as error:
            raise TransportError(f"Twilio unreachable: {error}") from None
        return message.sid


class RebasedTwilioHttpClient(TwilioHttpClient):
    """Sends what the SDK built for https://api.twilio.com/... to another base URL."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        rebased = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, rebased, *args, **kwargs)


def twilio_client() -> TwilioClient:
    if settings.TWILIO_API_URL:
        http_client = RebasedTwilioHttpClient(settings.TWILIO_API_URL, timeout=PROVIDER_TIMEOUT)
    else:
        http_client = TwilioHttpClient(timeout=PROVIDER_TIMEOUT)
    return TwilioClient(
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client
    )


# --- Klaviyo --------------------------------------------------------------------------------


class ConsoleKlaviyo:
    def send(self, notification: Notification) -> str:
        payload = notification.payload
        if notification.kind == Notification.Kind.PROFILE_UPDATED:
            state = "subscribed" if payload.get("subscribed") else "unsubscribed"
            logger.info("Klaviyo profile %s: %s", state, json.dumps(payload.get("profile")))
        else:
            logger.info(
                "Klaviyo event %r for %s: %s",
                payload.get("metric"),
                notification.recipient,
                json.dumps(payload.get("properties"), sort_keys=True),
            )
        return f"console-klaviyo-{notification.pk}"


class Klaviyo:
    """The klaviyo-api SDK with its own retries off: the outbox decides when to try again."""

    def send(self, notification: Notification) -> str:
        if not settings.KLAVIYO_PRIVATE_API_KEY:
            raise TransportError(
                "Klaviyo is not enabled: set KLAVIYO_PRIVATE_API_KEY", permanent=True
            )
        client = klaviyo_client()
        try:
            if notification.kind == Notification.Kind.PROFILE_UPDATED:
                return self._update_profile(client, notification.payload)
            return self._create_event(client, notification.payload)
        except ApiException as error:
            status = error.status or 0
            permanent = 400 <= status < 500 and status not in (408, 429)
            raise TransportError(f"Klaviyo {status}: {_klaviyo_detail(error)}", permanent) from None
        except PayloadInvalid as error:
            raise TransportError(f"Klaviyo payload invalid: {error}", permanent=True) from None
        except (HTTPError, OSError) as error:
            raise TransportError(f"Klaviyo unreachable: {error}") from None

    def _create_event(self, client, payload: dict) -> str:
        attributes = {
            "properties": payload["properties"],
            "metric": {"data": {"type": "metric", "attributes": {"name": payload["metric"]}}},
            "profile": {"data": {"type": "profile", "attributes": payload["profile"]}},
            "unique_id": payload["unique_id"],
            "time": payload["time"],
        }
        if payload.get("value") is not None:
            attributes["value"] = float(payload["value"])
            attributes["value_currency"] = payload.get("value_currency", settings.FAIRDRAW_CURRENCY)
        body = {"data": {"type": "event", "attributes": attributes}}
        client.Events.create_event(body, _request_timeout=PROVIDER_TIMEOUT)
        # Klaviyo answers 202 with no body; the unique id is how it tells repeats apart.
        return payload["unique_id"]

    def _update_profile(self, client, payload: dict) -> str:
        """Upsert the profile, then set its marketing consent: subscribe when given, a global
        unsubscribe when withdrawn (no list: withdrawing consent covers every list)."""
        profile = payload["profile"]
        response = client.Profiles.create_or_update_profile(
            {"data": {"type": "profile", "attributes": profile}},
            _request_timeout=PROVIDER_TIMEOUT,
            options={"USE_DICTIONARY_FOR_RESPONSE_DATA": True},
        )
        identity = {k: profile[k] for k in ("email", "phone_number") if profile.get(k)}
        if payload["subscribed"]:
            job = {
                "data": {
                    "type": "profile-subscription-bulk-create-job",
                    "attributes": {
                        "custom_source": settings.SITE_NAME,
                        "profiles": {
                            "data": [
                                {
                                    "type": "profile",
                                    "attributes": {
                                        "email": profile["email"],
                                        "subscriptions": {
                                            "email": {"marketing": {"consent": "SUBSCRIBED"}}
                                        },
                                    },
                                }
                            ]
                        },
                    },
                }
            }
            if settings.KLAVIYO_LIST_ID:
                job["data"]["relationships"] = {
                    "list": {"data": {"type": "list", "id": settings.KLAVIYO_LIST_ID}}
                }
            client.Profiles.bulk_subscribe_profiles(job, _request_timeout=PROVIDER_TIMEOUT)
        else:
            subscriptions = {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}}
            if "phone_number" in identity:
                subscriptions["sms"] = {"marketing": {"consent": "UNSUBSCRIBED"}}
            job = {
                "data": {
                    "type": "profile-subscription-bulk-delete-job",
                    "attributes": {
                        "profiles": {
                            "data": [
                                {
                                    "type": "profile",
                                    "attributes": {**identity, "subscriptions": subscriptions},
                                }
                            ]
                        }
                    },
                }
            }
            client.Profiles.bulk_unsubscribe_profiles(job, _request_timeout=PROVIDER_TIMEOUT)
        return (response or {}).get("data", {}).get("id", "") or profile["email"]


def klaviyo_client() -> KlaviyoAPI:
    return KlaviyoAPI(
        settings.KLAVIYO_PRIVATE_API_KEY,
        max_retries=0,
        max_delay=0,
        test_host=settings.KLAVIYO_API_URL,
    )


def _klaviyo_detail(error) -> str:
    """The first JSON:API error's detail when Klaviyo sent one, else the HTTP reason."""
    try:
        first = json.loads(error.body)["errors"][0]
        return first.get("detail") or first.get("title") or str(first)
    except (TypeError, ValueError, KeyError, IndexError):
        return (error.body or error.reason or "no detail").strip()[:500]


# --- choosing ------------------------------------------------------------------------------

_BACKENDS = {
    Notification.Channel.SMS: {"twilio": TwilioSMS, "console": ConsoleSMS},
    Notification.Channel.KLAVIYO: {"klaviyo": Klaviyo, "console": ConsoleKlaviyo},
}


def _auto(channel: str) -> str:
    if channel == Notification.Channel.SMS:
        configured = (
            settings.TWILIO_ACCOUNT_SID
            and settings.TWILIO_AUTH_TOKEN
            and settings.TWILIO_FROM_NUMBER
        )
        return "twilio" if configured else "console"
    return "klaviyo" if settings.KLAVIYO_PRIVATE_API_KEY else "console"


def transport_for(channel: str):
    """The transport the settings choose for a channel (NOTIFICATIONS_<CHANNEL>_BACKEND)."""
    if channel == Notification.Channel.EMAIL:
        return Email()
    setting = {
        Notification.Channel.SMS: "NOTIFICATIONS_SMS_BACKEND",
        Notification.Channel.KLAVIYO: "NOTIFICATIONS_KLAVIYO_BACKEND",
    }[channel]
    name = getattr(settings, setting, "auto") or "auto"
    if name == "auto":
        name = _auto(channel)
    try:
        return _BACKENDS[channel][name]()
    except KeyError:
        raise TransportError(f"{setting}={name!r} is not a known backend", permanent=True) from None
