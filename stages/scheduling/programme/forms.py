"""Forms of the catalogue, the speakers' directory and a half-day's programme."""
from __future__ import annotations

from decimal import Decimal

from wtforms import EmailField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from stages.forms import AmountField, BaseForm, LINE, TEXT, database_id, select_choices
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


def _strict_amount(form, field):
    if field.data is not None and field.data != field.data.quantize(Decimal("0.01")):
        raise ValidationError("Saisissez un montant en euros avec au plus deux décimales, par exemple 150 ou 150,50.")


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
    fee = AmountField("Défraiement ou honoraires (€)", places=2, validators=[
        Optional(), NumberRange(0, MAX_SPEAKER_FEE_CENTS / 100, "Le montant doit être compris entre 0 et 10 000 €."),
        _strict_amount,
    ])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=4000)], **TEXT)

    def speaker_data(self) -> SpeakerData:
        return SpeakerData(
            full_name=self.full_name.data or "", kind=SpeakerKind(self.kind.data), email=self.email.data or None,
            phone=self.phone.data or None, notes=self.notes.data,
            fee_cents=int(self.fee.data * 100) if self.fee.data is not None else None,
        )

    def load(self, speaker) -> None:
        self.full_name.data, self.kind.data, self.email.data = speaker.full_name, speaker.kind.value, speaker.email
        self.phone.data = display_phone(speaker.phone) if speaker.phone else None
        self.fee.data = Decimal(speaker.fee_cents) / 100 if speaker.fee_cents is not None else None
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
