"""Referral import, step 2: ``plan_import``, the preview, and its ``ImportReport``.

Each row is converted, then compared with the file's other rows and with what is on file
(earlier imports, people, measures typed in by hand). Nothing is written.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from stages.enrollment.importer.cells import Referential
from stages.enrollment.importer.columns import Assignment, map_columns
from stages.enrollment.importer.common import CHUNK, SAMPLE_SIZE, Progress, RowError
from stages.enrollment.importer.mappings import column_assignments
from stages.enrollment.importer.reading import RawTable
from stages.enrollment.importer.rows import (
    CREATING,
    Outcome,
    PlannedRow,
    _compact_reference,
    convert_row,
)
from stages.enrollment.models import LegalMeasure, Participant
from stages.enrollment.services import find_duplicates
from stages.errors import DomainError
from stages.extensions import db
from stages.auth.models import AUTHORITY_KINDS, Organization, OrganizationKind
from stages.wording import ngettext

@dataclass
class ImportReport:
    """The preview of an import, then its result (``created``)."""

    association: Organization
    authority: Organization | None = None  # chosen at upload: the default of every row
    columns: list[Assignment] = field(default_factory=list)  # which column fed which field
    rows_total: int = 0
    rows: list[PlannedRow] = field(default_factory=list)  # the valid rows
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    created: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def _with(self, *outcomes: Outcome) -> list[PlannedRow]:
        return [row for row in self.rows if row.outcome in outcomes]

    @property
    def to_create(self) -> list[PlannedRow]:
        return self._with(*CREATING)

    @property
    def attached(self) -> list[PlannedRow]:
        """Rows whose measure goes to a person already on file."""
        return self._with(Outcome.EXISTING_PERSON)

    def result(self, association: Organization) -> str:
        """What the import did, in one French sentence."""
        attached = len(self.attached)
        text = ngettext("%(num)d mesure importée", "%(num)d mesures importées", self.created)
        text += f" pour {association.name}"
        if attached:
            text += ", dont " + ngettext("%(num)d rattachée", "%(num)d rattachées", attached)
            text += " à une personne existante"
        return text + "."

    @property
    def already_imported(self) -> list[PlannedRow]:
        return self._with(Outcome.ALREADY_IMPORTED, Outcome.ALREADY_RECORDED)

    @property
    def repeated(self) -> list[PlannedRow]:
        return self._with(Outcome.REPEATED)

    @property
    def sample(self) -> list[PlannedRow]:
        """The first rows to be created, for the preview."""
        return self.to_create[:SAMPLE_SIZE]

    @property
    def error_lines(self) -> list[int]:
        return sorted({error.line for error in self.errors})

    def summary(self) -> str:
        """One French sentence with the counts (those at zero left out, but the first)."""
        attached = len(self.attached)
        parts = [
            _count(len(self.to_create), "mesure à créer", "mesures à créer")
            + (f" (dont {_count(attached, 'rattachée', 'rattachées')} à une personne existante)"
               if attached else ""),
        ]
        for rows, singular, plural in (
            (self.already_imported, "déjà importée", "déjà importées"),
            (self.repeated, "doublon dans le fichier", "doublons dans le fichier"),
            (self.error_lines, "ligne en erreur", "lignes en erreur"),
        ):
            if rows:
                parts.append(_count(len(rows), singular, plural))
        return f"{_count(self.rows_total, 'ligne lue', 'lignes lues')} : {', '.join(parts)}."


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n:,}".replace(",", "\u202f") + " " + (singular if n <= 1 else plural)


def plan_import(
    table: RawTable,
    association: Organization,
    *,
    authority: Organization | None = None,
    columns: Mapping[int, str] | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """The preview: what importing ``table`` for ``association`` would do, row by row. No writes.

    ``authority``, chosen at upload, refers every row whose « Autorité » cell is empty or absent
    (a parquet's own list has no such column). ``columns`` gives, by position, the field the
    organizer chose for columns (``IGNORED``: not imported); the other columns take the choice
    remembered for ``authority``, or the field their header names.
    """
    if association.kind != OrganizationKind.ASSOCIATION:
        raise DomainError("L'association chargée des stages doit être une association.")
    if authority is not None and (
        authority.kind not in AUTHORITY_KINDS or authority.archived_at is not None
    ):
        raise DomainError(
            "L'autorité prescriptrice doit être un parquet, un tribunal ou un SPIP en activité."
        )
    defaults = {"authority": authority} if authority is not None else {}
    column_map = map_columns(column_assignments(table.headers, authority, columns), defaults)
    referential = Referential.load()
    report = ImportReport(
        association, authority=authority, columns=column_map.assignments,
        rows_total=len(table.rows),
        notes=[*table.notes, *column_map.notes, *_authority_notes(authority, column_map)],
    )
    for row in table.rows:
        planned, errors = convert_row(row, column_map, referential, association, defaults)
        report.errors += errors
        if planned is not None:
            report.rows.append(planned)
        if progress:
            progress(1)
    _mark_repeats(report)
    _mark_already_imported(report.rows)
    _match_people(report.rows)
    return report


def _authority_notes(authority: Organization | None, columns) -> list[str]:
    if authority is None:
        return []
    header = columns.headers.get("authority")
    if header is None:
        return [f"Autorité prescriptrice de chaque ligne : {authority.name} (choisie à l'import)."]
    return [
        f"Autorité prescriptrice : celle de la colonne « {header} », ou {authority.name} (choisie "
        "à l'import) quand la cellule est vide."
    ]


def _mark_repeats(report: ImportReport) -> None:
    """Rows of the file with the same key: an exact copy is skipped, a variant is an error."""
    first: dict[str, PlannedRow] = {}
    kept = []
    for row in report.rows:
        original = first.setdefault(row.import_key, row)
        if original is row:
            kept.append(row)
        elif (original.participant, original.measure) == (row.participant, row.measure):
            row.outcome, row.other_line = Outcome.REPEATED, original.line
            kept.append(row)
        else:
            report.errors.append(RowError(
                row.line, None,
                f"Même personne, même cadre, même autorité et même n° de parquet qu'à la ligne "
                f"{original.line}, mais avec d'autres valeurs : ne gardez qu'une des deux lignes.",
            ))
    report.rows = kept
    report.errors.sort(key=lambda error: error.line)


def _chunks(values: Iterable) -> Iterator[list]:
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        yield chunk


def _mark_already_imported(rows: list[PlannedRow]) -> None:
    pending = [row for row in rows if row.outcome in CREATING]
    known = set()
    for chunk in _chunks(row.import_key for row in pending):
        known.update(
            db.session.scalars(
                sa.select(LegalMeasure.import_key).where(LegalMeasure.import_key.in_(chunk))
            )
        )
    for row in pending:
        if row.import_key in known:
            row.outcome = Outcome.ALREADY_IMPORTED


def _match_people(rows: list[PlannedRow]) -> None:
    """Attach rows to people on file (as ``find_duplicates`` defines them) or to an earlier row."""
    pending = [row for row in rows if row.outcome in CREATING]
    on_file = _identities_on_file({row.identity[0] for row in pending})
    person_ids: dict[tuple, int | None] = {}
    first_lines: dict[tuple, int] = {}
    for row in pending:
        identity = row.identity
        if identity in on_file and identity not in person_ids:
            # Only rows whose identity is on file reach the service: a handful of queries.
            matches = find_duplicates(row.participant.surname, row.participant.first_names,
                                      row.participant.birth_date)
            person_ids[identity] = min((person.id for person in matches), default=None)
        if person_ids.get(identity):
            row.outcome, row.participant_id = Outcome.EXISTING_PERSON, person_ids[identity]
        elif identity in first_lines:
            row.outcome, row.other_line = Outcome.SAME_PERSON_AS_LINE, first_lines[identity]
        else:
            first_lines[identity] = row.line
    _mark_already_recorded([row for row in pending if row.outcome == Outcome.EXISTING_PERSON])


def _identities_on_file(keys: set[str]) -> set[tuple]:
    """(search key, birth date) of the people on file among ``keys``, in a few IN queries."""
    found = set()
    for chunk in _chunks(sorted(keys)):
        found.update(
            (key, birth) for key, birth in db.session.execute(
                sa.select(Participant.search_key, Participant.birth_date).where(
                    Participant.search_key.in_(chunk), Participant.anonymized_at.is_(None)
                )
            )
        )
    return found


def _mark_already_recorded(rows: list[PlannedRow]) -> None:
    """A measure typed in by hand before the list arrived has no import key: match it by case."""
    recorded = set()
    for chunk in _chunks(sorted({row.participant_id for row in rows})):
        for person_id, authority_id, reference, frame in db.session.execute(
            sa.select(LegalMeasure.participant_id, LegalMeasure.authority_id,
                      LegalMeasure.case_reference, LegalMeasure.frame)
            .where(LegalMeasure.participant_id.in_(chunk))
        ):
            recorded.add((person_id, authority_id, _compact_reference(reference), frame))
    for row in rows:
        case = (row.participant_id, row.measure.authority.id,
                _compact_reference(row.measure.case_reference), row.measure.frame)
        if case in recorded:
            row.outcome = Outcome.ALREADY_RECORDED
