"""Phone numbers as clerks type them, read into E.164; a bad one gives a French error."""
import pytest

from stages.phones import INVALID_PHONE, PhoneError, display_phone, is_mobile, parse_phone


@pytest.mark.parametrize("typed, e164", [
    ("06 12 34 56 78", "+33612345678"),
    ("06.12.34.56.78", "+33612345678"),
    ("06-12-34-56-78", "+33612345678"),
    ("0612345678", "+33612345678"),
    ("+33 6 12 34 56 78", "+33612345678"),
    ("0033 6 12 34 56 78", "+33612345678"),
    ("+33 (0)6 12 34 56 78", "+33612345678"),
    ("01 42 34 56 78", "+33142345678"),  # a landline: stored, but no SMS (is_mobile)
    ("0692 12 34 56", "+262692123456"),  # Réunion
    ("+262 692 12 34 56", "+262692123456"),
    ("+33 692 12 34 56", "+262692123456"),  # Réunion written with the metropolitan code
    ("0690 12 34 56", "+590690123456"),  # Guadeloupe
    ("0696 12 34 56", "+596696123456"),  # Martinique
    ("0694 12 34 56", "+594694123456"),  # Guyane
    ("0639 40 12 34", "+262639401234"),  # Mayotte (shares +262 with Réunion)
    ("+44 7911 123456", "+447911123456"),
    ("0044 7911 123456", "+447911123456"),
    ("+1 415 555 2671", "+14155552671"),
    ("+40 721 234 567", "+40721234567"),  # Romania
    ("", None),
    ("   ", None),
])
def test_typed_numbers_are_stored_in_e164(typed, e164):
    assert parse_phone(typed) == e164


@pytest.mark.parametrize("typed", [
    "12", "06 12 34", "abc", "06 12 34 56 78 90 12", "+33 0 00 00 00 00", "=1+2", "0" * 41,
    "7911 123456",  # a British mobile without its +44: not a French number
])
def test_unreadable_numbers_give_a_french_error(typed):
    with pytest.raises(PhoneError) as raised:
        parse_phone(typed)
    assert raised.value.message == INVALID_PHONE
    assert "Numéro de téléphone invalide" in INVALID_PHONE


def test_numbers_are_shown_as_people_write_them():
    assert display_phone("+33612345678") == "06 12 34 56 78"
    assert display_phone("+262692123456") == "+262 692 12 34 56"
    assert display_phone("+447911123456") == "+44 7911 123456"
    assert display_phone("06 12 à vérifier") == "06 12 à vérifier"  # kept as stored
    assert display_phone(None) == ""


def test_only_mobiles_receive_sms():
    assert is_mobile("+33612345678") and is_mobile("+262692123456") and is_mobile("+447911123456")
    assert not is_mobile("+33142345678")
    assert not is_mobile("06 12 34 56 78")  # not E.164: « à vérifier »
