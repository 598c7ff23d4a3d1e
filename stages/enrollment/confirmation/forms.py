"""The public page's two forms (their French text is in the template, errors as codes)."""
from __future__ import annotations

from wtforms import RadioField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from stages.enrollment.confirmation.models import REASON_TEXT_MAX, ChangeReason
from stages.forms import TEXT, BaseForm, select_choices


class ConfirmForm(BaseForm):
    """« Je confirme ma présence »: nothing but the CSRF token."""


class OtherDateForm(BaseForm):
    """A request for another date: a reason from the list, and a short text for « autre »."""

    reason = RadioField(choices=select_choices((r.value, r.value) for r in ChangeReason),
                        validators=[InputRequired("reason_missing")])
    details = TextAreaField(validators=[Optional(), Length(max=REASON_TEXT_MAX, message="reason_text_too_long")],
                            **TEXT)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # « Autre » needs its few words (Optional() above stops the field's own validators).
        if self.reason.data == ChangeReason.OTHER.value and not self.details.data:
            self.details.errors = [*self.details.errors, "reason_text_missing"]
            return False
        return valid
