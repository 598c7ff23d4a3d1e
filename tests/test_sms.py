"""SMS core: segments counted as the networks do (GSM 03.38 or UCS-2), quiet hours."""
from datetime import datetime, timezone

import pytest

from stages.sms import GSM7, UCS2, count_segments, in_quiet_hours, quiet_hours, quiet_hours_end


def test_a_gsm7_text_fits_160_characters_then_153_per_part():
    text = "Rappel : votre stage a lieu demain a 9 h 30, MJD du 17e. Apportez une piece d'identite."
    assert count_segments(text).encoding == GSM7
    assert count_segments("a" * 160).count == 1
    assert count_segments("a" * 161).count == 2
    assert count_segments("a" * 306).count == 2
    assert count_segments("a" * 307).count == 3
    assert count_segments("é è à ù Ç É").encoding == GSM7  # accents of the basic set
    assert count_segments("a" * 160).label == "1 SMS (GSM-7)"


def test_the_extension_table_counts_two_and_is_never_split():
    assert count_segments("€").units == 2 and count_segments("€").encoding == GSM7
    assert count_segments("€" * 80).count == 1  # 160 septets
    assert count_segments("a" + "€" * 80).count == 2
    # 152 septets then « € »: the escape and its character go to the next part together
    # (306 septets would fit two parts of 153 if it could be split)
    segments = count_segments("a" * 152 + "€" + "a" * 152)
    assert segments.units == 306 and segments.count == 3


def test_a_text_with_oe_goes_unicode_70_then_67():
    text = "Votre sœur"
    assert count_segments(text).encoding == UCS2
    assert count_segments(text).label == "1 SMS (Unicode)"
    assert count_segments("œ" * 70).count == 1
    assert count_segments("œ" * 71).count == 2
    assert count_segments("œ" * 134).count == 2
    assert count_segments("œ" * 135).count == 3
    assert count_segments("ê").encoding == UCS2  # not in GSM 03.38 (only « é », « è »)


def test_an_arabic_text_goes_unicode():
    text = "تذكير: التدريب غدا في الساعة 9:30"
    segments = count_segments(text)
    assert segments.encoding == UCS2 and segments.count == 1 and segments.units == len(text)
    assert count_segments(text * 3).count == 2  # 3 × 33 = 99 units: two parts of 67
    assert count_segments(text * 3).label == "2 SMS (Unicode)"


def test_an_emoji_counts_two_units_and_is_not_split():
    assert count_segments("😀").units == 2
    assert count_segments("a" * 66 + "😀" + "a" * 67).count == 3  # 66 + (2) + 67: the pair moves


PARIS_0759 = datetime(2026, 3, 5, 6, 59, tzinfo=timezone.utc)  # 07:59 in Paris (winter)


def test_quiet_hours_cross_midnight(app):
    with app.app_context():
        assert quiet_hours() is not None
        assert in_quiet_hours(PARIS_0759)
        assert not in_quiet_hours(datetime(2026, 3, 5, 7, 0, tzinfo=timezone.utc))  # 08:00
        assert not in_quiet_hours(datetime(2026, 3, 5, 18, 59, tzinfo=timezone.utc))  # 19:59
        assert in_quiet_hours(datetime(2026, 3, 5, 19, 0, tzinfo=timezone.utc))  # 20:00
        assert in_quiet_hours(datetime(2026, 7, 5, 5, 59, tzinfo=timezone.utc))  # 07:59 summer
        assert quiet_hours_end(PARIS_0759) == datetime(2026, 3, 5, 7, 0, tzinfo=timezone.utc)
        assert quiet_hours_end(datetime(2026, 3, 5, 20, 0, tzinfo=timezone.utc)) == datetime(
            2026, 3, 6, 7, 0, tzinfo=timezone.utc)


def test_quiet_hours_are_configurable(app):
    with app.app_context():
        app.config["SMS_QUIET_HOURS"] = "21h30-07:00"
        try:
            assert not in_quiet_hours(datetime(2026, 3, 5, 6, 30, tzinfo=timezone.utc))  # 07:30
            assert in_quiet_hours(datetime(2026, 3, 5, 20, 30, tzinfo=timezone.utc))  # 21:30
            app.config["SMS_QUIET_HOURS"] = ""
            assert not in_quiet_hours(PARIS_0759)
            app.config["SMS_QUIET_HOURS"] = "n'importe quoi"
            with pytest.raises(ValueError):
                in_quiet_hours(PARIS_0759)
        finally:
            app.config["SMS_QUIET_HOURS"] = "20:00-08:00"
