"""Referral import: the fields it understands, their French headers, and matching a file's headers.

``normalize`` is also used by ``flask stages import-referrals`` to find the association by name.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from stages.enrollment.importer.common import ImportFileError
from stages.enrollment.models import LegalMeasure, Participant

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
COLUMNS = (
    Column("surname", "Nom", required=True, max_length=_max_length(_P, "surname"),
           synonyms=("Nom de famille", "Nom d'usage", "Nom patronymique", "Nom de naissance")),
    Column("first_names", "Prénom(s)", required=True, max_length=_max_length(_P, "first_names"),
           synonyms=("Prénom",)),
    Column("birth_date", "Date de naissance", Kind.DATE, required=True,
           synonyms=("Né le", "Né(e) le", "Date naissance", "DDN")),
    Column("birth_place", "Lieu de naissance", max_length=_max_length(_P, "birth_place"),
           synonyms=("Né à", "Né(e) à", "Ville de naissance", "Commune de naissance")),
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
           synonyms=("Cadre juridique", "Cadre légal", "Type de mesure", "Mesure")),
    Column("authority", "Autorité", Kind.AUTHORITY, required=True,
           synonyms=("Autorité prescriptrice", "Prescripteur", "Juridiction", "Parquet")),
    Column("case_reference", "N° de parquet", required=True,
           max_length=_max_length(_M, "case_reference"),
           synonyms=("Numéro de parquet", "Nº de parquet", "N° parquet",
                     "Num parquet", "Référence", "Référence de la procédure", "N° de procédure",
                     "Numéro de procédure")),
    Column("facts_date", "Date des faits", Kind.DATE, synonyms=("Date de l'infraction",)),
    Column("decision_date", "Date de décision", Kind.DATE, required=True,
           synonyms=("Date de la décision", "Date du jugement")),
    Column("final_date", "Date définitive", Kind.DATE,
           synonyms=("Date à laquelle la décision est définitive", "Décision définitive le")),
    Column("deadline", "Date limite", Kind.DATE, required=True,
           synonyms=("Échéance", "Date d'échéance", "Date butoir", "À réaliser avant le")),
    Column("fee_cents", "Montant", Kind.AMOUNT,
           synonyms=("Montant du stage", "Coût", "Coût du stage", "Prix", "Frais de stage")),
    Column("payer", "Payeur", Kind.PAYER, synonyms=("Payé par", "À la charge de")),
    Column("payment_status", "Statut du paiement", Kind.PAYMENT,
           synonyms=("Paiement", "État du paiement", "Statut paiement")),
    Column("certificate_recipient", "Destinataire de l'attestation",
           max_length=_max_length(_M, "certificate_recipient"),
           synonyms=("Destinataire", "Attestation à adresser à")),
)
IDENTITY_FIELDS = frozenset(
    ("surname", "first_names", "birth_date", "birth_place", "address", "postal_code", "city",
     "phone", "email")
)


def normalize(text) -> str:
    """Lower-case, accent-, space- and punctuation-free form, to match headers and labels."""
    text = unicodedata.normalize("NFKD", str(text))
    return "".join(c for c in text if c.isalnum() and not unicodedata.combining(c)).lower()


_HEADERS = {normalize(name): col for col in COLUMNS for name in (col.label, *col.synonyms)}


def _known_headers(cells: tuple) -> int:
    return sum(1 for cell in cells if cell is not None and normalize(cell) in _HEADERS)


@dataclass(frozen=True)
class ColumnMap:
    """Where each field sits in the file, and the header the user gave it (for messages)."""

    index: dict[str, int]
    headers: dict[str, str]
    notes: list[str]


def map_columns(headers: list[str]) -> ColumnMap:
    """Match the file's headers to fields; a missing required column is a file-level error."""
    index: dict[str, int] = {}
    names: dict[str, str] = {}
    ignored = []
    for position, header in enumerate(headers):
        if not header:
            continue
        column = _HEADERS.get(normalize(header))
        if column is None:
            ignored.append(f"« {header} »")
        elif column.field in index:
            raise ImportFileError(
                f"La colonne « {column.label} » figure deux fois (« {names[column.field]} » et "
                f"« {header} ») : gardez-en une seule."
            )
        else:
            index[column.field], names[column.field] = position, header
    missing = [f"« {c.label} »" for c in COLUMNS if c.required and c.field not in index]
    if missing:
        raise ImportFileError(
            f"Colonne{'s' if len(missing) > 1 else ''} obligatoire{'s' if len(missing) > 1 else ''}"
            f" absente{'s' if len(missing) > 1 else ''} : {', '.join(missing)}. La ligne d'en-tête "
            "doit porter les intitulés des colonnes (Nom, Prénom(s), Date de naissance, Cadre, "
            "Autorité, N° de parquet, Date de décision, Date limite…)."
        )
    notes = [f"Colonnes ignorées (non reconnues) : {', '.join(ignored)}."] if ignored else []
    return ColumnMap(index, names, notes)
