"""The forms of a person's language and needs, and of an interpreter's booking."""
from __future__ import annotations

import re
from decimal import Decimal

from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from stages.enrollment.forms import _no_formula
from stages.enrollment.models import MAX_INTERPRETER_COST_CENTS
from stages.enrollment.needs import NeedsData
from stages.forms import LINE, BaseForm, one_line_filter, select_choices
from stages.i18n import FRENCH, language_choices

# Euros as a clerk types them: « 180 », « 180,50 », « 1 200 € ». Nothing else: no exponent, no
# « inf », no sign.
_EUROS = re.compile(r"\d{1,6}(?:[.,]\d{1,2})?")


class EurosField(StringField):
    """An amount in euros, read strictly; ``cents`` is its value in cents (None when empty)."""

    cents: int | None = None

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.cents = None
        typed = (self.data or "").replace("€", "").replace(" ", "").replace("\u00a0", "").strip()
        if not typed:
            return
        if not _EUROS.fullmatch(typed):
            raise ValueError("Indiquez un montant en euros, par exemple 180 ou 180,50.")
        self.cents = int(Decimal(typed.replace(",", ".")) * 100)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data or ""


class NeedsForm(BaseForm):
    language = SelectField("Langue parlée", choices=select_choices(language_choices()), default=FRENCH,
                           description="Sa convocation est traduite en anglais, espagnol, portugais, "
                           "roumain et arabe, après le texte français.")
    interpreter_needed = BooleanField("Interprète nécessaire")
    needs_reduced_mobility = BooleanField("Mobilité réduite ou fauteuil roulant")
    needs_hearing = BooleanField("Personne malentendante")
    needs_sight = BooleanField("Personne malvoyante")
    needs_other = StringField("Autre besoin", validators=[Optional(), Length(max=300), _no_formula],
                              filters=[one_line_filter])

    def needs_data(self) -> NeedsData:
        """What was typed."""
        return NeedsData(
            language=self.language.data, interpreter_needed=self.interpreter_needed.data,
            needs_reduced_mobility=self.needs_reduced_mobility.data,
            needs_hearing=self.needs_hearing.data, needs_sight=self.needs_sight.data,
            needs_other=self.needs_other.data,
        )


class InterpreterBookingForm(BaseForm):
    interpreter_name = StringField(
        "Nom de l'interprète", description="Laissez vide pour annuler la réservation.",
        validators=[Optional(), Length(max=120), _no_formula], **LINE,
    )
    cost = EurosField("Coût (€)", description=f"De 0 à {MAX_INTERPRETER_COST_CENTS // 100} €.")
    confirmed = BooleanField("Réservation confirmée par l'interprète")

    def validate_cost(self, field):
        if field.cents is not None and field.cents > MAX_INTERPRETER_COST_CENTS:
            raise ValidationError(f"Le coût doit être compris entre 0 et {MAX_INTERPRETER_COST_CENTS // 100} €.")

    def load(self, booking) -> None:
        """A GET's values: the booking's."""
        if booking is not None:
            self.interpreter_name.data = booking.interpreter_name
            self.cost.data = "" if booking.cost_cents is None else f"{booking.cost_cents / 100:.2f}".replace(".", ",")
            self.confirmed.data = booking.confirmed
