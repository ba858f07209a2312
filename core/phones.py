"""Phone numbers as we store and text them: E.164, a national number read as a UK one.

It lives in core because sign-up (accounts) and the SMS transport (notifications, below
accounts) must agree on what a valid number is."""

import re

from django.core.exceptions import ValidationError

# E.164: "+", a country code that does not start with 0, at most 15 digits in all.
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
UK_COUNTRY_CODE = "44"
# Separators people type inside a phone number.
PHONE_NOISE = re.compile(r"[\s\-.()/]")


def phone_to_e164(raw: str) -> str:
    """Normalise a phone number to E.164, reading a national number as a UK one.

    "07700 900123", "+44 (0)7700 900123" and "0044 7700 900123" all become "+447700900123";
    other countries need their "+" prefix."""
    # "(0)" first: the UK habit "+44 (0)7700 ..." writes a trunk 0 that E.164 drops.
    text = PHONE_NOISE.sub("", (raw or "").replace("(0)", ""))
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.startswith("0"):
        text = "+" + UK_COUNTRY_CODE + text[1:]
    elif text.startswith(UK_COUNTRY_CODE) and len(text) in (11, 12):
        text = "+" + text
    if not E164.match(text):
        raise ValidationError(
            "Enter a valid phone number, e.g. 07700 900123 or +44 7700 900123.",
            code="invalid_phone",
        )
    national = text[1 + len(UK_COUNTRY_CODE) :]
    # UK numbers have 10 digits after the trunk 0 (a few old rural ones 9); mobiles always 10.
    uk_lengths = (10,) if national.startswith("7") else (9, 10)
    if text.startswith("+" + UK_COUNTRY_CODE) and not (
        len(national) in uk_lengths and not national.startswith("0")
    ):
        raise ValidationError(
            "That doesn’t look like a UK number: it should have 11 digits starting with 0.",
            code="invalid_phone",
        )
    return text
