"""Referral import: converting and validating one row into a ``PlannedRow`` and its import key.

The enrollment services' validators do the checking; their messages are pinned to a column here.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stages.enrollment.importer.cells import CellError, Referential, convert_cell
from stages.enrollment.importer.columns import COLUMNS, IDENTITY_FIELDS, ColumnMap
from stages.enrollment.importer.common import RowError
from stages.enrollment.frames import legal_deadline
from stages.enrollment.importer.reading import RawRow
from stages.enrollment.models import LegalFrame
from stages.enrollment.services import (
    MeasureData,
    ParticipantData,
    search_key,
    validate_measure,
    validate_participant,
)
from stages.auth.models import Organization

class Outcome(StrEnum):
    """What importing a valid row does."""

    NEW_PERSON = "new_person"
    EXISTING_PERSON = "existing_person"
    SAME_PERSON_AS_LINE = "same_person_as_line"
    ALREADY_IMPORTED = "already_imported"
    ALREADY_RECORDED = "already_recorded"
    REPEATED = "repeated"


CREATING = (Outcome.NEW_PERSON, Outcome.EXISTING_PERSON, Outcome.SAME_PERSON_AS_LINE)


@dataclass
class PlannedRow:
    """A valid row and what importing it will do."""

    line: int
    participant: ParticipantData
    measure: MeasureData
    import_key: str
    outcome: Outcome = Outcome.NEW_PERSON
    participant_id: int | None = None  # the person on file the measure is attached to
    other_line: int | None = None  # the earlier line it repeats, or whose new person it shares

    @property
    def identity(self) -> tuple[str, date]:
        person = self.participant
        return search_key(person.surname, person.first_names), person.birth_date

    @property
    def display_name(self) -> str:
        return f"{self.participant.surname.upper()} {self.participant.first_names}"

    @property
    def remark(self) -> str:
        """The row's fate, in French, for the preview."""
        return {
            Outcome.NEW_PERSON: "nouvelle personne",
            Outcome.EXISTING_PERSON: "rattachée à une personne existante",
            Outcome.SAME_PERSON_AS_LINE: f"même personne qu'à la ligne {self.other_line}",
            Outcome.ALREADY_IMPORTED: "déjà importée",
            Outcome.ALREADY_RECORDED: "déjà enregistrée pour cette personne",
            Outcome.REPEATED: f"doublon de la ligne {self.other_line} : ignorée",
        }[self.outcome]


# The services' validators return sentences without saying which field they concern: the import
# must point at a column, so each sentence is attributed by its subject.
_MESSAGE_FIELDS = (
    ("La date de naissance", "birth_date"), ("Le nom", "surname"), ("Le prénom", "first_names"),
    ("L'autorité", "authority"), ("Le numéro de parquet", "case_reference"),
    ("La date limite", "deadline"), ("La date des faits", "facts_date"),
    ("La date à laquelle", "final_date"), ("Le montant", "fee_cents"),
)


def _attribute(line: int, messages: list[str], columns: ColumnMap) -> list[RowError]:
    def column_of(message: str) -> str | None:
        name = next((f for start, f in _MESSAGE_FIELDS if message.startswith(start)), None)
        return columns.headers.get(name) if name else None

    return [RowError(line, column_of(message), message) for message in messages]


def import_key(person: ParticipantData, measure: MeasureData) -> str:
    """The row's fingerprint: the same for the same referral whatever the file, order or accents."""
    parts = (
        "v1",
        str(measure.authority.id),
        _compact_reference(measure.case_reference),
        search_key(person.surname, person.first_names),
        person.birth_date.isoformat(),
        # The frame's code when keys were first made: a list imported before migration 0020
        # renamed « ordonnance_penale » still adds nothing when imported again.
        _KEY_FRAMES.get(measure.frame, measure.frame.value),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


_KEY_FRAMES = {LegalFrame.STAGE_CONTRAVENTION: "ordonnance_penale"}


def _compact_reference(reference: str) -> str:
    return "".join(reference.split()).upper()


def convert_row(
    row: RawRow, columns: ColumnMap, referential: Referential, association: Organization,
    defaults: Mapping[str, object] | None = None,
) -> tuple[PlannedRow | None, list[RowError]]:
    """A row's data and errors; identity and measure are validated even if the other half failed.

    ``defaults`` (the authority chosen at upload) fill the fields whose cell is empty or absent.
    """
    defaults = defaults or {}
    values, errors, failed = dict(defaults), [], set()
    for column in COLUMNS:
        position = columns.index.get(column.field)
        if position is None:
            continue
        raw = row.cells[position] if position < len(row.cells) else None
        try:
            value = convert_cell(column, raw, position in row.formulas, referential)
            if value is None and column.required and column.field not in defaults:
                raise CellError("Valeur obligatoire manquante.")
        except CellError as error:
            errors.append(RowError(row.line, columns.headers[column.field], error.message))
            failed.add(column.field)
            continue
        if value is not None or column.field not in defaults:
            values[column.field] = value
    person = measure = None
    if not failed & IDENTITY_FIELDS:
        person = ParticipantData(**{name: values.get(name) for name in IDENTITY_FIELDS})
        errors += _attribute(row.line, validate_participant(person), columns)
    if not failed - IDENTITY_FIELDS:
        measure = _measure_data(values, association)
        errors += _attribute(row.line, validate_measure(measure), columns)
    if errors:
        return None, errors
    return PlannedRow(row.line, person, measure, import_key(person, measure)), []


def _measure_data(values: dict, association: Organization) -> MeasureData:
    optional = {
        name: values[name]
        for name in ("facts_date", "final_date", "fee_cents", "payer", "payment_status",
                     "certificate_recipient")
        if values.get(name) is not None
    }
    frame, procedure = values["frame"]
    legal = legal_deadline(frame, values["decision_date"], values.get("final_date"))
    return MeasureData(
        frame=frame, procedure=procedure, authority=values["authority"],
        case_reference=values["case_reference"], decision_date=values["decision_date"],
        deadline=values["deadline"], handling_organization=association,
        # The authority's own list is the reason for a date other than the legal one.
        deadline_reason=(
            "date limite indiquée par la liste d'orientation"
            if legal is not None and values["deadline"] not in (None, legal) else None
        ),
        **optional,
    )
