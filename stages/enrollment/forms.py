"""Forms for participants, legal measures and enrollment actions."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError

from stages.auth.models import AUTHORITY_KINDS, Organization, OrganizationKind
from stages.auth.permissions import visible
from stages.enrollment.importer.columns import COLUMNS, FIELDS, IGNORED, Assignment, Source
from stages.enrollment.frames import PEINE_STAGE_BASIS, legal_deadline
from stages.enrollment.models import DecisionProcedure, LegalFrame, LegalMeasure, Payer, PaymentStatus
from stages.enrollment.services import (
    MeasureData,
    ParticipantData,
    proposed_courses,
    upcoming_courses_query,
)
from stages.extensions import db
from stages.scheduling.models import CourseStatus
from stages.phones import PhoneError, display_phone, parse_phone
from stages.forms import AmountField, BaseForm, LINE, TEXT, select_choices
from stages.text import looks_like_formula
from stages.timeutil import fr_date
from stages.wording import seats_text

# Courses offered when enrolling or rescheduling someone: the next ones, soonest first.
MAX_PROPOSALS = 60


def _authorities() -> list[Organization]:
    """The referring authorities in service, by name."""
    return list(db.session.scalars(
        sa.select(Organization)
        .where(Organization.kind.in_(AUTHORITY_KINDS), Organization.archived_at.is_(None))
        .order_by(Organization.name)
    ))


def _no_formula(form, field):
    """Refuse text that a spreadsheet would run as a formula once exported (the field's
    ``strip_filter`` has already normalized it)."""
    if field.data and looks_like_formula(field.data):
        raise ValidationError("Ce texte ne peut pas commencer par « = », « + », « - » ou « @ ».")


def _phone(form, field):
    """Refuse a number that cannot be read; a number « à vérifier » shown as stored may stay."""
    stored = getattr(form, "stored_phone_to_check", None)
    if field.data and field.data.strip() != stored:
        try:
            parse_phone(field.data)
        except PhoneError as error:
            raise ValidationError(error.message) from None


class ParticipantFields:
    """Reads the identity fields of a form that has them."""

    def participant_data(self) -> ParticipantData:
        """The identity typed."""
        return ParticipantData(
            surname=self.surname.data or "",
            first_names=self.first_names.data or "",
            birth_date=self.birth_date.data,
            birth_place=self.birth_place.data,
            address=self.address.data,
            postal_code=self.postal_code.data,
            city=self.city.data,
            phone=self.phone.data,
            email=self.email.data,
        )


class ParticipantForm(ParticipantFields, BaseForm):
    surname = StringField("Nom", validators=[DataRequired("Indiquez le nom."), Length(max=120), _no_formula], **LINE)
    first_names = StringField("Prénom(s)", validators=[DataRequired("Indiquez le prénom."), Length(max=200), _no_formula], **LINE)
    birth_date = DateField("Date de naissance", validators=[InputRequired("Indiquez la date de naissance.")])
    birth_place = StringField("Lieu de naissance", validators=[Optional(), Length(max=120), _no_formula], **LINE)
    address = StringField("Adresse", validators=[Optional(), Length(max=300), _no_formula], **LINE)
    postal_code = StringField("Code postal", validators=[Optional(), Length(max=10)], **LINE)
    city = StringField("Ville", validators=[Optional(), Length(max=100), _no_formula], **LINE)
    phone = StringField(
        "Téléphone", description="Un portable reçoit la convocation et les rappels par SMS "
        "s'il y consent. Numéro étranger : avec l'indicatif (+44…).",
        validators=[Optional(), Length(max=40), _phone], **LINE,
    )
    email = EmailField(
        "Courriel", validators=[Optional(), Email("Adresse électronique invalide."), Length(max=254)], **LINE
    )

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        # A number « à vérifier » (kept as typed before migration 0024) may be left as it is.
        self.stored_phone_to_check = obj.phone if obj is not None and obj.phone_to_check else None
        if obj is not None and obj.phone and not obj.phone_to_check and not self.is_submitted():
            self.phone.data = display_phone(obj.phone)


class MeasureFields(BaseForm):
    # Radio buttons: a frame is named in full (its texts), too long for a drop-down list.
    frame = RadioField("Cadre juridique", choices=LegalFrame.choices(), default=LegalFrame.ALTERNATIVE_POURSUITES.value)
    authority = SelectField("Autorité prescriptrice", coerce=int, validators=[InputRequired("Choisissez l'autorité.")])
    handling_organization = SelectField("Association chargée du stage", coerce=int)
    case_reference = StringField(
        "N° de parquet",
        description="Tel qu'il figure sur la décision (conservé comme texte).",
        validators=[DataRequired("Indiquez le numéro de parquet."), Length(max=80), _no_formula],
        **LINE,
    )
    facts_date = DateField("Date des faits", validators=[Optional()])
    decision_date = DateField("Date de la décision", validators=[InputRequired("Indiquez la date de la décision.")])
    final_date = DateField("Date à laquelle la décision est devenue définitive", validators=[Optional()])
    procedure = SelectField(
        "Prononcée par (peine complémentaire de stage)",
        choices=select_choices([("", "—"), *((p.value, p.label) for p in DecisionProcedure)]),
        coerce=lambda value: "" if value is None else str(value),  # the measure's enum, or posted
        default="",
        validate_choice=False,  # a measure's None (another frame) is "": checked below
        description="Pour la peine complémentaire de la contravention : ordonnance pénale ou "
        "jugement du tribunal de police.",
    )
    penalty_set_in_advance = SelectField(
        "Peine fixée par avance par le tribunal (peine de stage)",
        choices=select_choices([
            ("", "—"), ("oui", "Oui : le juge de l'application des peines pourra l'appliquer"),
            ("non", "Non : ne pas faire le stage est un délit (art. 434-41 CP)"),
        ]),
        coerce=lambda value: {True: "oui", False: "non", None: ""}.get(value, value),
        default="",
        validate_choice=False,  # a measure's None (not known, another frame) is "": checked below
        description="Peine de stage : le tribunal a-t-il fixé l'emprisonnement ou l'amende "
        "encourus si le stage n'est pas fait (art. 131-9 CP) ?",
    )
    deadline = DateField(
        "Date limite pour effectuer le stage",
        description=f"Peine de stage : laissez vide pour la calculer ({PEINE_STAGE_BASIS} ; sans "
        "cette date, dix jours après la décision). Autres cadres : vide, le délai habituel de "
        "l'autorité s'il est réglé.",
        validators=[Optional()],
    )
    deadline_reason = StringField(
        "Motif d'une autre date limite (peine de stage)",
        description="Obligatoire si la date limite d'une peine de stage n'est pas celle que donne la loi.",
        validators=[Optional(), Length(max=500), _no_formula],
        **LINE,
    )
    fee = AmountField(
        "Montant du stage (€)",
        places=2,
        description="Laissé vide : le montant que l'association a réglé pour ce cadre (0 sinon).",
        validators=[Optional(), NumberRange(0, 450, "Le montant doit être compris entre 0 et 450 €.")],
    )
    payer = SelectField("Qui paie", choices=Payer.choices(), default=Payer.PARTICIPANT.value)
    payment_status = SelectField("Paiement", choices=PaymentStatus.choices(), default=PaymentStatus.DUE.value)
    certificate_recipient = StringField(
        "Destinataire de l'attestation", validators=[Optional(), Length(max=200), _no_formula], **LINE
    )

    def validate_deadline(self, field):
        if field.data and self.decision_date.data and field.data < self.decision_date.data:
            raise ValidationError("La date limite doit suivre la date de la décision.")
        if field.data is None and self.frame.data != LegalFrame.PEINE_STAGE.value:
            raise ValidationError("Indiquez la date limite.")

    def validate_procedure(self, field):
        if field.data and field.data not in {p.value for p in DecisionProcedure}:
            raise ValidationError("Choisissez une procédure de la liste.")
        if self.frame.data == LegalFrame.STAGE_CONTRAVENTION.value and not field.data:
            raise ValidationError("Indiquez si la peine a été prononcée par ordonnance pénale ou par jugement.")

    def validate_penalty_set_in_advance(self, field):
        if field.data not in (None, "", "oui", "non"):
            raise ValidationError("Répondez oui ou non.")
        if self.frame.data == LegalFrame.PEINE_STAGE.value and not field.data:
            raise ValidationError("Indiquez si le tribunal a fixé une peine par avance.")

    def fill_choices(self, user) -> None:
        """Authorities in service; the associations ``user`` works for (all, for admins)."""
        self.authority.choices = select_choices((o.id, o.name) for o in _authorities())
        associations = db.session.scalars(
            visible(Organization, user)
            .where(Organization.kind == OrganizationKind.ASSOCIATION, Organization.archived_at.is_(None))
            .order_by(Organization.name)
        )
        self.handling_organization.choices = select_choices((o.id, o.name) for o in associations)

    def load(self, measure: LegalMeasure) -> None:
        """Fill the choice and money fields from ``measure`` (the others come from ``obj``)."""
        self.frame.data = measure.frame.value
        if measure.deadline == legal_deadline(measure.frame, measure.decision_date, measure.final_date):
            self.deadline.data = None  # the legal one: computed again from the dates typed
        self.authority.data = measure.authority_id
        self.handling_organization.data = measure.handling_organization_id
        self.fee.data = Decimal(measure.fee_cents) / 100
        self.payer.data, self.payment_status.data = measure.payer.value, measure.payment_status.value

    def measure_data(self) -> MeasureData:
        """The measure typed, with its authority and association loaded."""
        frame = LegalFrame(self.frame.data)
        return MeasureData(
            frame=frame,
            procedure=(
                DecisionProcedure(self.procedure.data)
                if frame == LegalFrame.STAGE_CONTRAVENTION and self.procedure.data else None
            ),
            penalty_set_in_advance=(
                {"oui": True, "non": False}.get(self.penalty_set_in_advance.data)
                if frame == LegalFrame.PEINE_STAGE else None
            ),
            deadline_reason=self.deadline_reason.data or None,
            authority=db.session.get(Organization, self.authority.data),
            handling_organization=db.session.get(Organization, self.handling_organization.data),
            case_reference=self.case_reference.data or "",
            facts_date=self.facts_date.data,
            decision_date=self.decision_date.data,
            final_date=self.final_date.data,
            deadline=self.deadline.data,
            fee_cents=int(self.fee.data * 100) if self.fee.data is not None else None,
            payer=Payer(self.payer.data),
            payment_status=PaymentStatus(self.payment_status.data),
            certificate_recipient=self.certificate_recipient.data or None,
        )


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


# Radio buttons, not a drop-down list: a phone cuts a long option short, a radio label wraps.
class RescheduleForm(BaseForm):
    course = RadioField("Nouveau stage", coerce=int, validators=[InputRequired("Choisissez un stage.")])
    note = TextAreaField("Note (facultatif)", validators=[Optional(), Length(max=500)], **TEXT)


class EnrollForm(BaseForm):
    course = RadioField("Stage", coerce=int, validators=[InputRequired("Choisissez un stage.")])


class ReservationForm(BaseForm):
    authority = SelectField("Autorité prescriptrice", coerce=int, validators=[InputRequired("Choisissez l'autorité.")])
    seats = IntegerField(
        "Places réservées", description="0 lève la réservation.",
        validators=[InputRequired("Indiquez le nombre de places."), NumberRange(0, 200, "Entre 0 et 200 places.")],
    )
    release_days = IntegerField(
        "Libérées combien de jours avant le stage", default=14,
        description="Passé ce délai, les places non occupées s'ouvrent à toutes les autorités.",
        validators=[InputRequired("Indiquez le délai."), NumberRange(0, 365, "Entre 0 et 365 jours.")],
    )

    def fill_choices(self) -> None:
        self.authority.choices = select_choices((o.id, o.name) for o in _authorities())


def course_choices(form, measure: LegalMeasure, user, exclude_id: int | None = None) -> list:
    """Offer the courses still open to enrollment that ``user`` may see, each with its seats and
    whether it would end after the measure's deadline; returns the proposals."""
    courses = db.session.scalars(upcoming_courses_query(user).limit(MAX_PROPOSALS)).all()
    proposals = proposed_courses(measure, [c for c in courses if c.id != exclude_id])
    form.course.choices = select_choices((course.id, course_choice_label(course, late)) for course, late in proposals)
    if proposals and not form.is_submitted():
        form.course.data = proposals[0][0].id  # the best fit comes first, and is ticked
    return proposals


def course_choice_label(course, late: bool) -> str:
    """A course as offered in a list: its date, venue, seats, and whether it is only a draft or
    ends after the measure's deadline."""
    seats = seats_text(course.seats_taken, course.capacity) if course.seats_left else "complet : liste d'attente"
    return (
        f"{fr_date(course.starts_at)} — {course.venue.name} — {seats}"
        + (" — brouillon, pas encore programmé" if course.status == CourseStatus.DRAFT else "")
        + (" — APRÈS LA DATE LIMITE" if late else "")
    )


FROM_THE_FILE = 0  # the authority choice meaning: the one each row names (column « Autorité »)


class ImportUploadForm(BaseForm):
    file = FileField(
        "Fichier de la liste",
        validators=[
            FileRequired("Choisissez le fichier à importer."),
            FileAllowed(["csv", "xlsx"], "Seuls les fichiers .csv et .xlsx sont acceptés."),
        ],
        description="CSV (séparateur « ; » ou « , », UTF-8 ou l'export « CSV » d'Excel) ou "
        "classeur Excel .xlsx, 10 Mo au maximum ; la première ligne porte les intitulés des "
        "colonnes.",
    )
    association = SelectField(
        "Association chargée des stages",
        coerce=int,
        validators=[DataRequired("Choisissez l'association.")],
    )
    authority = SelectField(
        "Autorité prescriptrice",
        coerce=int,
        default=FROM_THE_FILE,
        description="Le parquet, le tribunal ou le SPIP qui a envoyé la liste : il est retenu "
        "pour chaque ligne. Une colonne « Autorité » remplie dans le fichier l'emporte ligne à "
        "ligne.",
    )
    review_columns = BooleanField(
        "Choisir moi-même le champ de chaque colonne",
        description="Sinon, cette étape n'est proposée que pour les colonnes dont l'intitulé "
        "n'est pas reconnu.",
    )

    def fill_authorities(self) -> None:
        """The authorities in service, after the choice of reading it in each row."""
        self.authority.choices = select_choices([
            (FROM_THE_FILE, "— Indiquée dans le fichier (colonne « Autorité ») —"),
            *((o.id, o.name) for o in _authorities()),
        ])


class ImportConfirmForm(BaseForm):
    token = HiddenField(validators=[DataRequired()])


class ImportColumnsForm(BaseForm):
    """One choice per column of the file (``column_<position>``): the field it feeds, or none.

    Built for a given file by ``import_columns_form``.
    """

    def column_fields(self) -> list:
        return [field for field in self if field.name.startswith("column_")]

    def chosen(self) -> dict[int, str]:
        """Position → field (or ``IGNORED``) chosen."""
        return {int(field.name.removeprefix("column_")): field.data for field in self.column_fields()}

    def validate(self, extra_validators=None) -> bool:
        """Each field fed by one column at most."""
        valid = super().validate(extra_validators)
        first: dict[str, str] = {}
        for field in self.column_fields():
            if field.data in (IGNORED, "") or field.errors:
                continue
            if field.data in first:
                field.errors.append(
                    f"Le champ « {FIELDS[field.data].label} » est déjà fourni par la colonne "
                    f"« {first[field.data]} » : choisissez-en un autre, ou « Ne pas importer »."
                )
                valid = False
            first.setdefault(field.data, field.label.text)
        return valid


_COLUMN_CHOICES = select_choices([
    ("", "— À choisir —"),
    (IGNORED, "Ne pas importer cette colonne"),
    *((column.field, column.label + (" (obligatoire)" if column.required else ""))
      for column in COLUMNS),
])


def import_columns_form(assignments: list[Assignment], samples: dict[int, list[str]],
                        **kwargs) -> ImportColumnsForm:
    """The form for a file's columns, each preset to the field it feeds now (an unrecognized
    column to « À choisir »), with a few of its values as help."""

    class Form(ImportColumnsForm):
        pass

    for assignment in assignments:
        preset = assignment.field or ("" if assignment.source == Source.UNKNOWN else IGNORED)
        examples = " ; ".join(samples.get(assignment.position, ()))
        setattr(Form, f"column_{assignment.position}", SelectField(
            assignment.header,
            choices=_COLUMN_CHOICES,
            default=preset,
            validators=[InputRequired("Choisissez le champ de cette colonne, ou « Ne pas "
                                      "importer cette colonne ».")],
            description=f"Par exemple : {examples}" if examples else "Colonne vide.",
        ))
    return Form(**kwargs)
