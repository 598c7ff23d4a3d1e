"""Phone numbers: what clerks type, read into the international E.164 form (« +33612345678 »).

One reader (``parse_phone``) for the forms, the referral import and the data migration, built on
``phonenumbers`` (Google's libphonenumber metadata: every country's numbering plan, kept up to
date by the package, where a hand-made pattern would miss overseas departments and foreign
mobiles). Clerks type French numbers in their national form: « 06 12 34 56 78 »,
« 06.12.34.56.78 », « +33 (0)6… », « 0033 6… ». A national number that is not a valid number of
metropolitan France is tried in the overseas departments, which share the « 0 » trunk prefix
(« 0692… » is a Réunion mobile, « 0690… » Guadeloupe, « 0696… » Martinique, « 0694… » Guyane,
« 0639… » Mayotte); « +33 692… », a Réunion number written with the metropolitan code, is read
the same way. A foreign number needs its « + » (or « 00 »).
"""
from __future__ import annotations

import phonenumbers

# Metropolitan France first, then the overseas departments and collectivities that dial « 0 ».
NATIONAL_REGIONS = ("FR", "RE", "GP", "MQ", "GF", "YT", "PM", "BL", "MF")
# The message a form or an import shows for a number that cannot be read.
INVALID_PHONE = (
    "Numéro de téléphone invalide : écrivez-le comme « 06 12 34 56 78 », ou avec l'indicatif du "
    "pays pour un numéro étranger (« +44 7911 123456 »)."
)
# Shown beside a number kept as typed because it could not be read (before migration 0024).
TO_CHECK = "numéro à vérifier"


class PhoneError(ValueError):
    """A number that cannot be read; its text is French, shown as a form error."""

    def __init__(self, message: str = INVALID_PHONE):
        super().__init__(message)
        self.message = message


def _valid(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def parse_phone(text: str | None) -> str | None:
    """The E.164 form of a typed number, None for an empty one; ``PhoneError`` when unreadable."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > 40 or not any(c.isdigit() for c in text):
        raise PhoneError()
    for region in NATIONAL_REGIONS:
        number = _valid(text, region)
        if number is not None:
            break
    else:
        number = _overseas_with_metropolitan_code(text)
    if number is None:
        raise PhoneError()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _overseas_with_metropolitan_code(text: str) -> phonenumbers.PhoneNumber | None:
    """« +33 692 12 34 56 »: an overseas number written with +33, read as « 0692 12 34 56 »."""
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 33:
        return None
    national = f"0{number.national_number}"
    for region in NATIONAL_REGIONS[1:]:
        found = _valid(national, region)
        if found is not None:
            return found
    return None


def is_e164(text: str | None) -> bool:
    """Whether a stored number is in the E.164 form (and valid)."""
    if not text or not text.startswith("+"):
        return False
    return _valid(text, "FR") is not None and parse_phone(text) == text


def display_phone(e164: str | None) -> str:
    """« 06 12 34 56 78 » for a French number (metropolitan), the international form
    (« +262 692 12 34 56 », « +44 7911 123456 ») otherwise; a number not in E.164 as stored."""
    if not e164:
        return ""
    number = _valid(e164, "FR") if e164.startswith("+") else None
    if number is None:
        return e164
    if number.country_code == 33:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def is_mobile(e164: str | None) -> bool:
    """Whether the number can receive an SMS (a mobile, or a number that may be one)."""
    number = _valid(e164 or "", "FR") if e164 and e164.startswith("+") else None
    if number is None:
        return False
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
