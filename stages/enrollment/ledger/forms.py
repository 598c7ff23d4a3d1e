"""The ledger's forms: a payment, a refund, a waiver; the accounting filters; an association's
billing mentions. Amounts are read strictly (``amounts.parse_amount``)."""
from __future__ import annotations

from datetime import date

from wtforms import BooleanField, DateField, Field, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError
from wtforms.widgets import TextInput

from stages.enrollment.ledger.amounts import parse_amount
from stages.enrollment.ledger.models import PaymentMethod
from stages.errors import DomainError
from stages.forms import LINE, TEXT, BaseForm
from stages.text import looks_like_formula
from stages.timeutil import today_local


class StrictAmountField(Field):
    """An amount in euros as people type it (« 12,50 », « 1 200,00 € »), in cents."""

    widget = TextInput()

    def _value(self):
        return self.raw_data[0] if self.raw_data else ""

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist:
            try:
                self.data = parse_amount(valuelist[0])
            except DomainError as error:
                raise ValueError(error.message) from None


def _no_formula(form, field):
    if field.data and looks_like_formula(field.data):
        raise ValidationError("Ce texte ne peut pas commencer par « = », « + », « - » ou « @ ».")


class PaymentForm(BaseForm):
    amount = StrictAmountField("Montant reçu (€)", validators=[InputRequired("Indiquez le montant.")])
    method = SelectField("Moyen de paiement", choices=PaymentMethod.choices(), validators=[DataRequired()])
    paid_on = DateField("Date du paiement", default=today_local, validators=[InputRequired("Indiquez la date.")])
    reference = StringField("Référence (n° de chèque, libellé du virement)", validators=[Optional(), Length(max=80), _no_formula], **LINE)


class RefundForm(BaseForm):
    amount = StrictAmountField("Montant remboursé (€)", validators=[InputRequired("Indiquez le montant.")])
    method = SelectField("Moyen de remboursement", choices=PaymentMethod.choices(), validators=[DataRequired()])
    paid_on = DateField("Date du remboursement", default=today_local, validators=[InputRequired("Indiquez la date.")])
    reason = StringField("Motif du remboursement", validators=[DataRequired("Indiquez le motif."), Length(max=500), _no_formula], **LINE)
    reference = StringField("Référence", validators=[Optional(), Length(max=80), _no_formula], **LINE)


class WaiverForm(BaseForm):
    amount = StrictAmountField("Montant dispensé (€, vide : tout le reste dû)", validators=[Optional()])
    reason = TextAreaField("Motif de la dispense", validators=[DataRequired("Indiquez le motif de la dispense."), Length(max=500), _no_formula], **TEXT)


class AccountingFilterForm(BaseForm):
    """The accounting page's filters, read from the query string."""

    class Meta:
        csrf = False

    organisation = SelectField("Association", choices=[], validators=[Optional()], validate_choice=False)
    du = DateField("Du", validators=[Optional()])
    au = DateField("Au", validators=[Optional()])

    def period(self) -> tuple[date | None, date | None]:
        valid = self.validate()
        start, end = (self.du.data, self.au.data) if valid else (None, None)
        if start and end and start > end:
            start, end = end, start
        return start, end


class BillingForm(BaseForm):
    siret = StringField("SIRET (14 chiffres)", validators=[Optional(), Regexp(r"^\d{14}$", message="Le SIRET compte 14 chiffres.")], **LINE)
    vat_exempt = BooleanField("TVA non applicable, art. 293 B du CGI (à imprimer sur les reçus et factures)")
