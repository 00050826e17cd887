"""Personal data: phone normalisation and masking (个人信息保护法)."""

from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=65536)
def normalize_phone(raw: str | None, region: str = "CN") -> str | None:
    """Return the E.164 form of ``raw`` (default region CN), or None if it is not a valid number."""
    if not raw or len(raw) > 64:
        return None
    try:
        parsed = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def national_digits(e164: str) -> str:
    """The national significant number of an E.164 phone (``13812341234``)."""
    try:
        parsed = phonenumbers.parse(e164, "CN")
    except phonenumbers.NumberParseException:
        return "".join(ch for ch in e164 if ch.isdigit())
    return str(parsed.national_number)


def mask_phone(phone: str | None) -> str:
    """``+8613812341234`` -> ``138****1234``; short or odd values keep at most their last 2 digits."""
    if not phone:
        return ""
    digits = national_digits(phone) if phone.startswith("+") else phone
    if len(digits) >= 8:
        return digits[:3] + "****" + digits[-4:]
    return "*" * max(len(digits) - 2, 1) + digits[-2:]


def mask_id_number(value: str | None) -> str:
    """``110101199003071234`` -> ``1101**********1234``."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]
