"""Forms for venues, courses and series, and the course data they carry."""
from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import sqlalchemy as sa
from wtforms import (
    BooleanField,
    DateField,
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
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError

from stages.auth.models import Organization, OrganizationKind, User
from stages.auth.permissions import Permission, can, visible
from stages.errors import DomainError
from stages.extensions import db
from stages.forms import AmountField, BaseForm, LINE, TEXT, select_choices
from stages.scheduling.models import Course, Venue
from stages.scheduling.services import WEEKDAYS_FR, CourseData, PartSpec, SeriesRule
from stages.timeutil import to_local

# The usual day of a course: two half-days of three hours.
USUAL_DAY = ((time(9, 30), time(12, 30)), (time(13, 30), time(16, 30)))
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
    name = StringField("Nom du lieu", validators=[DataRequired("Indiquez le nom du lieu."), Length(max=200)], **LINE)
    room = StringField("Salle", validators=[Optional(), Length(max=120)], **LINE)
    address = StringField("Adresse", validators=[DataRequired("Indiquez l'adresse."), Length(max=300)], **LINE)
    postal_code = StringField(
        "Code postal",
        validators=[DataRequired("Indiquez le code postal."), Length(min=5, max=5, message="Le code postal compte 5 chiffres.")],
        **LINE,
    )
    city = StringField("Ville", validators=[DataRequired("Indiquez la ville."), Length(max=100)], **LINE)
    capacity = IntegerField(
        "Capacité (places)",
        validators=[InputRequired("Indiquez la capacité."), NumberRange(1, 500, "La capacité doit être comprise entre 1 et 500 places.")],
    )
    timezone = SelectField("Fuseau horaire", choices=select_choices(FRENCH_ZONES), default="Europe/Paris")
    opening_hours = StringField("Horaires d'ouverture", validators=[Optional(), Length(max=300)], **LINE)
    accessibility = TextAreaField(
        "Accessibilité",
        description="Ce que les cases ci-dessous ne disent pas ; repris dans la convocation.",
        validators=[Optional(), Length(max=2000)],
        **TEXT,
    )
    # Checked against each person's needs (enrollment.needs): a warning when one is not met.
    step_free_access = BooleanField("Accessible en fauteuil roulant (de plain-pied ou ascenseur)")
    hearing_loop = BooleanField("Boucle magnétique pour les personnes malentendantes")
    visual_aids = BooleanField("Aménagements pour les personnes malvoyantes (guidage, documents en gros caractères)")
    access_instructions = TextAreaField(
        "Accès et consignes pour les personnes convoquées",
        description="Repris dans la convocation : transports, entrée, contrôle de sécurité…",
        validators=[Optional(), Length(max=2000)],
        **TEXT,
    )

    def validate_postal_code(self, field):
        if field.data and not field.data.isdigit() and not field.data[:2] in ("2A", "2B"):
            raise ValidationError("Le code postal compte 5 chiffres.")
    manager = SelectField(
        "Association qui gère ce lieu",
        coerce=int,
        description="Elle seule (et l'administration) en modifie la fiche ; toutes les associations "
        "peuvent y programmer des stages.",
    )

    SHARED = 0

    def fill_managers(self, user, venue: Venue | None) -> None:
        """The associations ``user`` may put in charge (an admin: any, or none for a shared
        venue); on a GET, the venue's current one."""
        query = visible(Organization, user).where(
            Organization.kind == OrganizationKind.ASSOCIATION, Organization.archived_at.is_(None)
        )
        choices = [(o.id, o.name) for o in db.session.scalars(query.order_by(Organization.name))]
        if can(user, Permission.ADMIN):
            choices.insert(0, (self.SHARED, "Aucune : lieu partagé, modifié par l'administration"))
        self.manager.choices = select_choices(choices)
        if self.manager.data is None and venue is not None:
            self.manager.data = venue.owner.id if venue.owner is not None else self.SHARED
        elif self.manager.data is None and len(choices) == 1:
            self.manager.data = choices[0][0]  # an organizer of one association

    def populate_obj(self, obj) -> None:
        """The venue's fields; the manager is set by ``chosen_manager``."""
        for name, field in self._fields.items():
            if name != "manager":
                field.populate_obj(obj, name)

    def chosen_manager(self) -> Organization | None:
        return db.session.get(Organization, self.manager.data) if self.manager.data else None


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


class CourseSettingsForm(BaseForm):
    """What a course and a series have in common."""

    title = StringField(
        "Intitulé", default=DEFAULT_TITLE, validators=[DataRequired("Indiquez un intitulé."), Length(max=200)], **LINE
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
    fee = AmountField(
        "Montant du stage (€)",
        places=2,
        default=Decimal("0"),
        description="Entre 0 et 450 € (plafond de l'amende de 3e classe).",
        validators=[InputRequired("Indiquez le montant (0 si gratuit)."), NumberRange(0, 450, "Le montant doit être compris entre 0 et 450 €.")],
    )
    organizations = SelectMultipleField("Associations co-organisatrices", coerce=int)
    facilitators = SelectMultipleField("Intervenant·es", coerce=int)
    notes = TextAreaField("Notes internes", validators=[Optional(), Length(max=4000)], **TEXT)

    def course_data(self) -> CourseData:
        """The settings typed, with their venue, associations and facilitators loaded."""
        venue = db.session.get(Venue, self.venue.data)
        if venue is None:
            raise DomainError("Choisissez un lieu.")
        return CourseData(
            title=self.title.data or "",
            venue=venue,
            capacity=self.capacity.data,
            min_participants=self.min_participants.data,
            fee_cents=int((self.fee.data or Decimal(0)) * 100),
            parts=[],
            organizations=_load(Organization, self.organizations.data),
            facilitators=_load(User, self.facilitators.data),
            notes=self.notes.data or None,
        )


def _load(model, ids) -> list:
    return list(db.session.scalars(sa.select(model).where(model.id.in_(ids or []))))


class CourseForm(CourseSettingsForm):
    parts = FieldList(FormField(PartForm), min_entries=4, max_entries=4)
    confirm = HiddenField()
    confirm_past = BooleanField("Je confirme cette date passée (un stage déjà tenu, saisi après coup)")
    save_draft = SubmitField("Enregistrer comme brouillon")
    schedule = SubmitField("Programmer le stage")
    save = SubmitField("Enregistrer les modifications")

    def course_data(self) -> CourseData:
        """The settings and the half-days typed."""
        data = super().course_data()
        data.parts = [
            PartSpec(row.day.data, row.start.data, row.end.data) for row in self.parts if not row.is_blank
        ]
        data.past_confirmed = bool(self.confirm_past.data)
        return data

    def load(self, course: Course) -> None:
        """Fill the form from ``course`` (times in the venue's zone)."""
        self.title.data = course.title
        self.venue.data = course.venue_id
        self.capacity.data = course.capacity
        self.min_participants.data = course.min_participants
        self.fee.data = Decimal(course.fee_cents) / 100
        self.organizations.data = [o.id for o in course.organizations]
        self.facilitators.data = [u.id for u in course.facilitators]
        self.notes.data = course.notes
        for row, part in zip(self.parts, course.parts):
            start = to_local(part.starts_at, course.venue.timezone)
            end = to_local(part.ends_at, course.venue.timezone)
            row.day.data, row.start.data, row.end.data = start.date(), start.time(), end.time()

    def suggest_usual_day(self) -> None:
        """The usual day: 9 h 30 – 12 h 30 and 13 h 30 – 16 h 30."""
        for row, (start, end) in zip(self.parts, USUAL_DAY):
            row.start.data, row.end.data = start, end

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


class SeriesForm(CourseSettingsForm):
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

    def day_parts(self) -> list[tuple[int, time, time]]:
        """The half-days of each course of the series, as (day offset, start, end)."""
        halves = [(self.morning_start.data, self.morning_end.data)]
        if self.afternoon_start.data and self.afternoon_end.data:
            halves.append((self.afternoon_start.data, self.afternoon_end.data))
        days = (0, 1) if self.two_days.data else (0,)
        return [(offset, start, end) for offset in days for start, end in halves]

    def chosen_days(self) -> list[date]:
        """The dates ticked in the preview."""
        try:
            return [date.fromisoformat(value) for value in self.selected.data or []]
        except ValueError:
            raise DomainError("Une des dates cochées n'est pas valide : prévisualisez de nouveau.") from None

    def rule(self) -> SeriesRule:
        """The dates' rule chosen."""
        frequency = self.frequency.data
        return SeriesRule(
            first_day=self.first_day.data,
            last_day=self.last_day.data,
            weekday=self.weekday.data,
            every_weeks={"weekly": 1, "biweekly": 2}.get(frequency),
            nth_of_month=self.nth.data if frequency == "monthly" else None,
        )

    def suggest_usual_day(self) -> None:
        """The usual day: 9 h 30 – 12 h 30 and 13 h 30 – 16 h 30."""
        (self.morning_start.data, self.morning_end.data), (
            self.afternoon_start.data, self.afternoon_end.data
        ) = USUAL_DAY

    def validate_afternoon_end(self, field):
        if bool(self.afternoon_start.data) != bool(field.data):
            raise ValidationError("Indiquez le début et la fin de l'après-midi, ou aucun des deux.")
