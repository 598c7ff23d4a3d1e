"""Forms for participants, legal measures and enrollment actions."""
from __future__ import annotations

from decimal import Decimal

from wtforms import (
    DateField,
    DecimalField,
    EmailField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError

from stages.enrollment.models import LegalFrame, Payer, PaymentStatus
from stages.forms import BaseForm, strip_filter

TEXT = {"filters": [strip_filter]}


def _no_formula(form, field):
    """Refuse text that a spreadsheet would run as a formula once exported."""
    if field.data and field.data[0] in "=+@":
        raise ValidationError("Ce texte ne peut pas commencer par « = », « + » ou « @ ».")


class ParticipantForm(BaseForm):
    surname = StringField("Nom", validators=[DataRequired("Indiquez le nom."), Length(max=120), _no_formula], **TEXT)
    first_names = StringField("Prénom(s)", validators=[DataRequired("Indiquez le prénom."), Length(max=200), _no_formula], **TEXT)
    birth_date = DateField("Date de naissance", validators=[InputRequired("Indiquez la date de naissance.")])
    birth_place = StringField("Lieu de naissance", validators=[Optional(), Length(max=120), _no_formula], **TEXT)
    address = StringField("Adresse", validators=[Optional(), Length(max=300), _no_formula], **TEXT)
    postal_code = StringField("Code postal", validators=[Optional(), Length(max=10)], **TEXT)
    city = StringField("Ville", validators=[Optional(), Length(max=100), _no_formula], **TEXT)
    phone = StringField("Téléphone", validators=[Optional(), Length(max=40)], **TEXT)
    email = EmailField(
        "Courriel", validators=[Optional(), Email("Adresse électronique invalide."), Length(max=254)], **TEXT
    )


class MeasureFields(BaseForm):
    frame = SelectField("Cadre juridique", choices=LegalFrame.choices())
    authority = SelectField("Autorité prescriptrice", coerce=int, validators=[InputRequired("Choisissez l'autorité.")])
    handling_organization = SelectField("Association chargée du stage", coerce=int)
    case_reference = StringField(
        "N° de parquet",
        description="Tel qu'il figure sur la décision (conservé comme texte).",
        validators=[DataRequired("Indiquez le numéro de parquet."), Length(max=80), _no_formula],
        **TEXT,
    )
    facts_date = DateField("Date des faits", validators=[Optional()])
    decision_date = DateField("Date de la décision", validators=[InputRequired("Indiquez la date de la décision.")])
    final_date = DateField("Date à laquelle la décision est devenue définitive", validators=[Optional()])
    deadline = DateField("Date limite pour effectuer le stage", validators=[InputRequired("Indiquez la date limite.")])
    fee = DecimalField(
        "Montant du stage (€)",
        places=2,
        default=Decimal("0"),
        validators=[InputRequired("Indiquez le montant (0 si gratuit)."), NumberRange(0, 450, "Le montant doit être compris entre 0 et 450 €.")],
    )
    payer = SelectField("Qui paie", choices=Payer.choices(), default=Payer.PARTICIPANT.value)
    payment_status = SelectField("Paiement", choices=PaymentStatus.choices(), default=PaymentStatus.DUE.value)
    certificate_recipient = StringField(
        "Destinataire de l'attestation", validators=[Optional(), Length(max=200), _no_formula], **TEXT
    )

    def validate_deadline(self, field):
        if field.data and self.decision_date.data and field.data < self.decision_date.data:
            raise ValidationError("La date limite doit suivre la date de la décision.")


class MeasureForm(MeasureFields):
    """A measure added to a person already on file, or corrected."""


class ReferralForm(ParticipantForm, MeasureFields):
    """A new referral: the person and their measure, in one form."""

    attach_to = HiddenField()
    confirm_new = HiddenField()


class ReasonForm(BaseForm):
    reason = TextAreaField(
        "Motif", validators=[DataRequired("Indiquez le motif."), Length(max=500)], **TEXT
    )


class RescheduleForm(BaseForm):
    session = SelectField("Nouveau stage", coerce=int, validators=[InputRequired("Choisissez un stage.")])
    note = TextAreaField("Note (facultatif)", validators=[Optional(), Length(max=500)], **TEXT)


class EnrollForm(BaseForm):
    session = SelectField("Stage", coerce=int, validators=[InputRequired("Choisissez un stage.")])
