"""Forms for venues, organizations, sessions and series."""
from __future__ import annotations

from decimal import Decimal
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError

from stages.forms import BaseForm, select_choices, strip_filter
from stages.scheduling.models import OrganizationKind
from stages.scheduling.services import WEEKDAYS_FR

TEXT = {"filters": [strip_filter]}
DEFAULT_TITLE = "Stage de sensibilisation à la lutte contre l'achat d'actes sexuels"

# Zones of the courts in metropolitan and overseas France.
FRENCH_ZONES = [
    ("Europe/Paris", "Métropole et Corse (Europe/Paris)"),
    ("America/Guadeloupe", "Guadeloupe"),
    ("America/Martinique", "Martinique"),
    ("America/Cayenne", "Guyane"),
    ("Indian/Reunion", "La Réunion"),
    ("Indian/Mayotte", "Mayotte"),
    ("America/Miquelon", "Saint-Pierre-et-Miquelon"),
    ("Pacific/Noumea", "Nouvelle-Calédonie"),
    ("Pacific/Tahiti", "Polynésie française"),
    ("Pacific/Wallis", "Wallis-et-Futuna"),
]


class VenueForm(BaseForm):
    name = StringField("Nom du lieu", validators=[DataRequired("Indiquez le nom du lieu."), Length(max=200)], **TEXT)
    room = StringField("Salle", validators=[Optional(), Length(max=120)], **TEXT)
    address = StringField("Adresse", validators=[DataRequired("Indiquez l'adresse."), Length(max=300)], **TEXT)
    postal_code = StringField(
        "Code postal",
        validators=[DataRequired("Indiquez le code postal."), Length(min=5, max=5, message="Le code postal compte 5 chiffres.")],
        **TEXT,
    )
    city = StringField("Ville", validators=[DataRequired("Indiquez la ville."), Length(max=100)], **TEXT)
    capacity = IntegerField(
        "Capacité (places)",
        validators=[InputRequired("Indiquez la capacité."), NumberRange(1, 500, "La capacité doit être comprise entre 1 et 500 places.")],
    )
    timezone = SelectField("Fuseau horaire", choices=select_choices(FRENCH_ZONES), default="Europe/Paris")
    opening_hours = StringField("Horaires d'ouverture", validators=[Optional(), Length(max=300)], **TEXT)
    accessibility = TextAreaField("Accessibilité", validators=[Optional(), Length(max=2000)], **TEXT)
    access_instructions = TextAreaField(
        "Accès et consignes pour les personnes convoquées",
        description="Repris dans la convocation : transports, entrée, contrôle de sécurité…",
        validators=[Optional(), Length(max=2000)],
        **TEXT,
    )

    def validate_postal_code(self, field):
        if field.data and not field.data.isdigit() and not field.data[:2] in ("2A", "2B"):
            raise ValidationError("Le code postal compte 5 chiffres.")


class OrganizationForm(BaseForm):
    name = StringField("Nom", validators=[DataRequired("Indiquez le nom."), Length(max=200)], **TEXT)
    short_name = StringField("Nom court", validators=[DataRequired("Indiquez un nom court."), Length(max=60)], **TEXT)
    kind = SelectField("Type", choices=OrganizationKind.choices())
    address = StringField("Adresse", validators=[Optional(), Length(max=300)], **TEXT)
    email = StringField(
        "Adresse électronique",
        validators=[Optional(), Email("Adresse électronique invalide."), Length(max=254)],
        **TEXT,
    )
    phone = StringField("Téléphone", validators=[Optional(), Length(max=40)], **TEXT)


class PartForm(Form):
    """One half-day row; blank rows are ignored."""

    day = DateField("Date", validators=[Optional()])
    start = TimeField("Début", validators=[Optional()])
    end = TimeField("Fin", validators=[Optional()])

    @property
    def is_blank(self) -> bool:
        return not (self.day.data or self.start.data or self.end.data) and not (
            self.day.raw_data and self.day.raw_data[0]
        )


class SessionSettingsForm(BaseForm):
    """What a session and a series have in common."""

    title = StringField(
        "Intitulé", default=DEFAULT_TITLE, validators=[DataRequired("Indiquez un intitulé."), Length(max=200)], **TEXT
    )
    venue = SelectField("Lieu", coerce=int, validators=[InputRequired("Choisissez un lieu.")])
    capacity = IntegerField(
        "Capacité (places)",
        default=12,
        validators=[InputRequired("Indiquez la capacité."), NumberRange(1, 500, "La capacité doit être comprise entre 1 et 500 places.")],
    )
    min_participants = IntegerField(
        "Minimum de participants",
        default=5,
        validators=[InputRequired("Indiquez le minimum."), NumberRange(0, 500, "Le minimum doit être positif.")],
    )
    fee = DecimalField(
        "Montant du stage (€)",
        places=2,
        default=Decimal("0"),
        description="Entre 0 et 450 € (plafond de l'amende de 3e classe).",
        validators=[InputRequired("Indiquez le montant (0 si gratuit)."), NumberRange(0, 450, "Le montant doit être compris entre 0 et 450 €.")],
    )
    organizations = SelectMultipleField("Associations co-organisatrices", coerce=int)
    facilitators = SelectMultipleField("Intervenant·es", coerce=int)
    notes = TextAreaField("Notes internes", validators=[Optional(), Length(max=4000)], **TEXT)


class SessionForm(SessionSettingsForm):
    parts = FieldList(FormField(PartForm), min_entries=4, max_entries=4)
    confirm = HiddenField()
    save_draft = SubmitField("Enregistrer comme brouillon")
    schedule = SubmitField("Programmer le stage")
    save = SubmitField("Enregistrer les modifications")

    def validate_parts(self, field):
        for row in field:
            if row.is_blank:
                continue
            if not (row.day.data and row.start.data and row.end.data):
                raise ValidationError(
                    "Chaque demi-journée renseignée doit avoir une date, une heure de début et une heure de fin."
                )


class CancelForm(BaseForm):
    reason = TextAreaField(
        "Motif de l'annulation",
        validators=[DataRequired("Indiquez le motif de l'annulation."), Length(max=500)],
        **TEXT,
    )


class SeriesForm(SessionSettingsForm):
    first_day = DateField("Du", validators=[InputRequired("Indiquez la date de début.")])
    last_day = DateField("Au", validators=[InputRequired("Indiquez la date de fin.")])
    weekday = SelectField("Jour", coerce=int, choices=select_choices(enumerate(WEEKDAYS_FR)), default=3)
    frequency = RadioField(
        "Fréquence",
        choices=select_choices(
            [
                ("weekly", "Chaque semaine"),
                ("biweekly", "Une semaine sur deux"),
                ("monthly", "Une fois par mois, le n-ième jour choisi du mois"),
            ]
        ),
        default="biweekly",
    )
    nth = SelectField(
        "Rang dans le mois",
        coerce=int,
        choices=select_choices([(1, "1er"), (2, "2e"), (3, "3e"), (4, "4e"), (-1, "dernier")]),
        default=2,
    )
    two_days = BooleanField("Stage sur deux jours consécutifs")
    morning_start = TimeField("Matin : début", validators=[InputRequired("Indiquez l'heure de début du matin.")])
    morning_end = TimeField("Matin : fin", validators=[InputRequired("Indiquez l'heure de fin du matin.")])
    afternoon_start = TimeField("Après-midi : début", validators=[Optional()])
    afternoon_end = TimeField("Après-midi : fin", validators=[Optional()])
    selected = SelectMultipleField("Dates retenues", coerce=str)
    preview = SubmitField("Prévisualiser les dates")
    create = SubmitField("Créer les stages cochés")

    def validate_afternoon_end(self, field):
        if bool(self.afternoon_start.data) != bool(field.data):
            raise ValidationError("Indiquez le début et la fin de l'après-midi, ou aucun des deux.")
