"""Forms of the catalogue, the speakers' directory and a half-day's programme."""
from __future__ import annotations

import re

from wtforms import EmailField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from stages.forms import BaseForm, LINE, TEXT, database_id, select_choices
from stages.phones import PhoneError, display_phone, parse_phone
from stages.scheduling.programme.models import MAX_SPEAKER_FEE_CENTS, BookingStatus, ProgrammeTopic, SpeakerKind
from stages.scheduling.programme.services import ModuleData, SpeakerData


class ModuleForm(BaseForm):
    """A module of the association's catalogue."""

    title = StringField("Intitulé", validators=[DataRequired("Indiquez l'intitulé."), Length(max=200)], **LINE)
    duration_minutes = IntegerField(
        "Durée (minutes)", default=60,
        validators=[InputRequired("Indiquez la durée."), NumberRange(5, 360, "La durée va de 5 à 360 minutes.")],
    )
    topics = SelectMultipleField("Contenus couverts", choices=ProgrammeTopic.choices(),
                                 description="Les trois premiers sont ceux qu'exige le décret n° 2016-1709.")
    default_position = IntegerField(
        "Place dans le programme par défaut", validators=[Optional(), NumberRange(1, 50, "De 1 à 50.")],
        description="Laissé vide : le module n'est pas dans le programme d'un nouveau stage.",
    )
    description = TextAreaField("Description", validators=[Optional(), Length(max=4000)], **TEXT)

    def module_data(self) -> ModuleData:
        return ModuleData(title=self.title.data or "", duration_minutes=self.duration_minutes.data,
                          description=self.description.data, topics=[ProgrammeTopic(t) for t in self.topics.data],
                          default_position=self.default_position.data)

    def load(self, module) -> None:
        self.title.data, self.duration_minutes.data = module.title, module.duration_minutes
        self.topics.data = [t.value for t in module.topics]
        self.default_position.data, self.description.data = module.default_position, module.description


AMOUNT = re.compile(r"(\d{1,5})(?:[.,](\d{1,2}))?")


def parse_cents(text: str | None) -> int | None:
    """« 150 », « 150,5 », « 150.50 », « 1 500 » → cents; None when empty; ``ValueError`` for
    anything else (a third decimal, a sign, letters, an exponent)."""
    text = "".join((text or "").split())
    if not text:
        return None
    match = AMOUNT.fullmatch(text)
    if match is None:
        raise ValueError(text)
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def _strict_amount(form, field):
    try:
        cents = parse_cents(field.data)
    except ValueError:
        raise ValidationError("Saisissez un montant en euros avec au plus deux décimales, par exemple 150 ou 150,50.") from None
    if cents is not None and cents > MAX_SPEAKER_FEE_CENTS:
        raise ValidationError("Le montant doit être compris entre 0 et 10 000 €.")


def _phone(form, field):
    try:
        field.data = parse_phone(field.data)
    except PhoneError as error:
        raise ValidationError(error.message) from None


class SpeakerForm(BaseForm):
    """An outside speaker of the association: their contact is personal data."""

    full_name = StringField("Nom et prénom", validators=[DataRequired("Indiquez le nom."), Length(max=200)], **LINE)
    kind = SelectField("Qualité", choices=SpeakerKind.choices(), validators=[DataRequired("Choisissez une qualité.")])
    email = EmailField("Courriel", validators=[Optional(), Email("Adresse électronique invalide."), Length(max=254)],
                       **LINE)
    phone = StringField("Téléphone", validators=[Optional(), Length(max=40), _phone], **LINE)
    fee = StringField("Défraiement ou honoraires (€)", validators=[Optional(), Length(max=20), _strict_amount], **LINE)
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=4000)], **TEXT)

    def speaker_data(self) -> SpeakerData:
        return SpeakerData(
            full_name=self.full_name.data or "", kind=SpeakerKind(self.kind.data), email=self.email.data or None,
            phone=self.phone.data or None, notes=self.notes.data,
            fee_cents=parse_cents(self.fee.data),
        )

    def load(self, speaker) -> None:
        self.full_name.data, self.kind.data, self.email.data = speaker.full_name, speaker.kind.value, speaker.email
        self.phone.data = display_phone(speaker.phone) if speaker.phone else None
        self.fee.data = f"{speaker.fee_cents // 100},{speaker.fee_cents % 100:02d}" if speaker.fee_cents is not None else None
        self.notes.data = speaker.notes


class ItemForm(BaseForm):
    """A module added to one half-day, with optional times."""

    part = SelectField("Demi-journée", validators=[DataRequired("Choisissez la demi-journée.")])
    module = SelectField("Module", validators=[DataRequired("Choisissez un module.")])
    start = TimeField("Début (facultatif)", validators=[Optional()])
    end = TimeField("Fin (facultative)", validators=[Optional()])

    def fill(self, parts, modules) -> None:
        self.part.choices = select_choices(parts)
        self.module.choices = select_choices(modules)


ITEM_ACTIONS = ("up", "down", "remove", "book", "status", "release")


class ItemActionForm(BaseForm):
    """What to do with one module of the programme (order, removal, its speaker)."""

    action = SelectField("Action", choices=select_choices((a, a) for a in ITEM_ACTIONS), validators=[DataRequired()])
    speaker = StringField("Intervenant extérieur", validators=[Optional(), Length(max=12)])
    status = SelectField("Réponse", choices=BookingStatus.choices(), validators=[Optional()])

    def speaker_id(self) -> int | None:
        return database_id(self.speaker.data)
