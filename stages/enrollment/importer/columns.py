"""Referral import: the fields it understands, their French headers, and which column feeds which.

A column feeds a field because the organizer chose it for this import, or chose it in an earlier
import of the same authority's list (remembered, see ``mappings``), or because its header names
the field (``header_key`` forgives accents, case, articles, « N° »/« Numéro », units in brackets).
``normalize`` is also used by ``flask stages import-referrals`` to find organizations by name.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from stages.enrollment.importer.common import ImportFileError
from stages.enrollment.models import LegalMeasure, Participant
from stages.wording import ngettext

class Kind(StrEnum):
    TEXT = "text"
    POSTAL_CODE = "postal_code"
    PHONE = "phone"
    EMAIL = "email"
    DATE = "date"
    AMOUNT = "amount"
    FRAME = "frame"
    AUTHORITY = "authority"
    PAYER = "payer"
    PAYMENT = "payment"


# A formula's cached result is accepted in these columns (a deadline computed as decision + 6
# months is common); everywhere else a formula is refused.
COMPUTABLE_KINDS = (Kind.DATE, Kind.AMOUNT)


def _max_length(model, name: str) -> int:
    return model.__table__.c[name].type.length


@dataclass(frozen=True)
class Column:
    """A field the import understands, its French header and the other headers accepted for it."""

    field: str
    label: str
    kind: Kind = Kind.TEXT
    required: bool = False
    synonyms: tuple[str, ...] = ()
    max_length: int | None = None


_P, _M = Participant, LegalMeasure
# Synonyms are compared by ``header_key``: accents, case, punctuation, articles (« de la »),
# « N° »/« Numéro » and units in brackets (« (€) ») do not count, so each variant is listed once.
COLUMNS = (
    Column("surname", "Nom", required=True, max_length=_max_length(_P, "surname"),
           synonyms=("Nom de famille", "Nom d'usage", "Nom patronymique", "Nom de naissance",
                     "Nom du mis en cause", "Nom du stagiaire")),
    Column("first_names", "Prénom(s)", required=True, max_length=_max_length(_P, "first_names"),
           synonyms=("Prénoms",)),
    Column("birth_date", "Date de naissance", Kind.DATE, required=True,
           synonyms=("Né(e) le", "DDN")),
    Column("birth_place", "Lieu de naissance", max_length=_max_length(_P, "birth_place"),
           synonyms=("Né(e) à", "Ville de naissance", "Commune de naissance")),
    Column("address", "Adresse", max_length=_max_length(_P, "address"),
           synonyms=("Adresse postale", "Domicile")),
    Column("postal_code", "Code postal", Kind.POSTAL_CODE,
           max_length=_max_length(_P, "postal_code"), synonyms=("CP",)),
    Column("city", "Ville", max_length=_max_length(_P, "city"), synonyms=("Commune", "Localité")),
    Column("phone", "Téléphone", Kind.PHONE, max_length=_max_length(_P, "phone"),
           synonyms=("Tél", "Portable", "Mobile", "Téléphone portable", "N° de téléphone")),
    Column("email", "Courriel", Kind.EMAIL, max_length=_max_length(_P, "email"),
           synonyms=("E-mail", "Mél", "Mail", "Adresse électronique", "Adresse mail")),
    Column("frame", "Cadre", Kind.FRAME, required=True,
           synonyms=("Cadre juridique", "Cadre légal", "Type de mesure", "Mesure",
                     "Nature de la mesure", "Mesure ordonnée")),
    Column("authority", "Autorité", Kind.AUTHORITY, required=True,
           synonyms=("Autorité prescriptrice", "Prescripteur", "Juridiction", "Parquet",
                     "Mandant", "Autorité mandante", "Tribunal")),
    Column("case_reference", "N° de parquet", required=True,
           max_length=_max_length(_M, "case_reference"),
           synonyms=("Référence", "Référence parquet", "Réf. parquet",
                     "Référence de la procédure", "N° de procédure", "N° de dossier",
                     "N° d'affaire")),
    Column("facts_date", "Date des faits", Kind.DATE,
           synonyms=("Date de l'infraction", "Date de commission des faits")),
    Column("decision_date", "Date de décision", Kind.DATE, required=True,
           synonyms=("Date du jugement", "Date de l'ordonnance")),
    Column("final_date", "Date définitive", Kind.DATE,
           synonyms=("Date à laquelle la décision est définitive", "Décision définitive le")),
    Column("deadline", "Date limite", Kind.DATE, required=True,
           synonyms=("Date limite d'exécution", "Date limite d'exécution de la mesure",
                     "Date limite de réalisation", "Date limite du stage",
                     "Date limite pour effectuer le stage", "Limite", "Échéance",
                     "Date d'échéance", "Échéance de la mesure", "Date butoir",
                     "Délai d'exécution", "À réaliser avant le", "À effectuer avant le")),
    Column("fee_cents", "Montant", Kind.AMOUNT,
           synonyms=("Montant du stage", "Montant à payer", "Coût", "Coût du stage", "Prix",
                     "Tarif", "Frais de stage")),
    Column("payer", "Payeur", Kind.PAYER, synonyms=("Payé par", "À la charge de")),
    Column("payment_status", "Statut du paiement", Kind.PAYMENT,
           synonyms=("Paiement", "État du paiement")),
    Column("certificate_recipient", "Destinataire de l'attestation",
           max_length=_max_length(_M, "certificate_recipient"),
           synonyms=("Destinataire", "Attestation à adresser à")),
)
FIELDS = {column.field: column for column in COLUMNS}
IDENTITY_FIELDS = frozenset(
    ("surname", "first_names", "birth_date", "birth_place", "address", "postal_code", "city",
     "phone", "email")
)


def normalize(text) -> str:
    """Lower-case, accent-, space- and punctuation-free form, to match names and labels."""
    text = unicodedata.normalize("NFKD", str(text))
    return "".join(c for c in text if c.isalnum() and not unicodedata.combining(c)).lower()


_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WORDS = re.compile(r"[^\W_]+")
_ARTICLES = frozenset(("de", "du", "des", "d", "la", "le", "les", "l"))
_NUMBER_WORDS = frozenset(("n", "no", "num", "numero", "nr"))
# Units and formats written after a header without brackets: « Montant en euros », « jj/mm/aaaa ».
_TRAILING_UNITS = frozenset(("en", "eur", "euro", "euros", "ttc", "jj", "mm", "aaaa", "aa"))


def header_key(text) -> str:
    """A header in the form headers are compared in: « N° de parquet », « Numéro parquet » and
    « NUMERO DE PARQUET » are all ``numeroparquet``; « Montant (€) » is ``montant``; « Date limite
    d'exécution » is ``datelimiteexecution``. Also the key of a remembered column choice."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = _BRACKETS.sub(" ", text) if _WORDS.search(_BRACKETS.sub(" ", text)) else text
    words = ["numero" if word in _NUMBER_WORDS else word for word in _WORDS.findall(text)]
    while len(words) > 1 and words[-1] in _TRAILING_UNITS:
        words.pop()
    return "".join(word for word in words if word not in _ARTICLES) or "".join(words)


def _recognized_headers() -> dict[str, Column]:
    headers: dict[str, Column] = {}
    for column in COLUMNS:
        for name in (column.label, *column.synonyms):
            other = headers.setdefault(header_key(name), column)
            assert other is column, f"« {name} » would match both {other.field} and {column.field}"
    return headers


_HEADERS = _recognized_headers()


def recognize(header) -> Column | None:
    """The field a header names by itself (label or synonym), if any."""
    return _HEADERS.get(header_key(header)) if header else None


def known_headers(cells: tuple) -> int:
    """How many cells of a row are headers the import recognizes (to find the header row)."""
    return sum(1 for cell in cells if cell is not None and recognize(cell) is not None)


class Source(StrEnum):
    """Why a column feeds the field it feeds."""

    RECOGNIZED = "recognized"  # its header is the field's label or a synonym
    REMEMBERED = "remembered"  # the organizer's choice in an earlier import for this authority
    CHOSEN = "chosen"  # the organizer's choice in this import
    UNKNOWN = "unknown"  # not recognized, nothing chosen: not imported


IGNORED = "ignore"  # the field of a column the organizer chose not to import


@dataclass(frozen=True)
class Assignment:
    """One column of the file and the field it feeds (None: not imported)."""

    position: int
    header: str
    field: str | None
    source: Source

    @property
    def column(self) -> Column | None:
        return FIELDS.get(self.field)

    @property
    def description(self) -> str:
        """What became of the column, in French, for the preview."""
        if self.column is None:
            return "non importée" + (" (non reconnue)" if self.source == Source.UNKNOWN else "")
        return {
            Source.RECOGNIZED: f"{self.column.label} (intitulé reconnu)",
            Source.REMEMBERED: f"{self.column.label} (choix mémorisé pour cette autorité)",
            Source.CHOSEN: f"{self.column.label} (choisi pour cet import)",
        }[self.source]


def assign_columns(
    headers: list[str], remembered: Mapping[str, str] | None = None,
    chosen: Mapping[int, str] | None = None,
) -> list[Assignment]:
    """Each titled column and its field: the organizer's choice in this import (by position),
    else the one remembered for the authority (by ``header_key``), else the header's own meaning.
    A choice naming no known field (``IGNORED``) means the column is not imported."""
    remembered, chosen = remembered or {}, chosen or {}
    assignments = []
    for position, header in enumerate(headers):
        if not header:
            continue
        if position in chosen:
            field, source = chosen[position], Source.CHOSEN
        elif (key := header_key(header)) in remembered:
            field, source = remembered[key], Source.REMEMBERED
        elif column := recognize(header):
            field, source = column.field, Source.RECOGNIZED
        else:
            field, source = None, Source.UNKNOWN
        assignments.append(Assignment(position, header, field if field in FIELDS else None, source))
    return assignments


def needs_choices(assignments: list[Assignment]) -> bool:
    """Whether the organizer must say what a column holds: its header is neither recognized nor
    remembered for the authority."""
    return any(assignment.source == Source.UNKNOWN for assignment in assignments)


@dataclass(frozen=True)
class ColumnMap:
    """Where each field sits in the file, and the header the user gave it (for messages)."""

    index: dict[str, int]
    headers: dict[str, str]
    notes: list[str]
    assignments: list[Assignment]


def map_columns(assignments: list[Assignment], defaults: Iterable[str] = ()) -> ColumnMap:
    """Check the columns' fields: each fed once, the required ones fed by a column or, for those
    in ``defaults`` (the authority chosen at upload), by a default. Else a file-level error."""
    index: dict[str, int] = {}
    names: dict[str, str] = {}
    for assignment in assignments:
        column, header = assignment.column, assignment.header
        if column is None:
            continue
        if column.field in index:
            raise ImportFileError(
                f"La colonne « {column.label} » figure deux fois (« {names[column.field]} » et "
                f"« {header} ») : gardez-en une seule, ou indiquez à l'import la colonne de chaque "
                "champ."
            )
        index[column.field], names[column.field] = assignment.position, header
    defaults = set(defaults)
    missing = [
        f"« {c.label} »" for c in COLUMNS
        if c.required and c.field not in index and c.field not in defaults
    ]
    if missing:
        raise ImportFileError(
            ngettext("Colonne obligatoire absente", "Colonnes obligatoires absentes", len(missing))
            + f" : {', '.join(missing)}. La ligne "
            "d'en-tête doit porter les intitulés des colonnes (Nom, Prénom(s), Date de naissance, "
            "Cadre, N° de parquet, Date de décision, Date limite…) ; l'autorité peut être choisie "
            "à l'import au lieu d'une colonne."
        )
    unknown = [f"« {a.header} »" for a in assignments if a.source == Source.UNKNOWN]
    notes = [f"Colonnes ignorées (non reconnues) : {', '.join(unknown)}."] if unknown else []
    return ColumnMap(index, names, notes, assignments)
