"""Referral import: one cell converted to its field's value, or refused with a ``CellError``.

Text, postal codes, phones, e-mails, dates, amounts, choices (frame, payer, payment) and the
referring authority, looked up in a ``Referential`` loaded once per import.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from stages.enrollment.importer.columns import COMPUTABLE_KINDS, Column, Kind, normalize
from stages.enrollment.importer.common import FORMULA_MESSAGE
from stages.enrollment.models import DecisionProcedure, LegalFrame, Payer, PaymentStatus
from stages.extensions import db
from stages.phones import PhoneError, parse_phone
from stages.text import looks_like_formula, normalize_text
from stages.auth.models import AUTHORITY_KINDS, Organization

class CellError(Exception):
    """A cell's content is refused; the message is French."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_SPACES = re.compile(r"\s+")
# Control characters: refused. Invisible characters (zero-width spaces from web pages or Word, a
# stray byte order mark, bidirectional overrides that could disguise a text) are dropped by
# ``normalize_text`` before anything is checked.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_SIGNED_NUMBER = re.compile(r"[+-][\d\s.,()/€]*")
_PLACEHOLDER = re.compile(r"[-–—]+")


def clean_text(value, *, signed_number_ok: bool = False) -> str | None:
    """A cell as one line of text, or None when empty; formulas and control characters refused."""
    if value is None:
        return None
    text = normalize_text(value if isinstance(value, str) else _scalar_text(value))
    stripped = text.strip()
    if _PLACEHOLDER.fullmatch(stripped):
        return None  # « - » or « — » is how lists say "unknown", not a formula
    if looks_like_formula(text) and not (signed_number_ok and _SIGNED_NUMBER.fullmatch(stripped)):
        raise CellError(FORMULA_MESSAGE)
    text = _SPACES.sub(" ", stripped)
    if _CONTROL.search(text):
        raise CellError("La cellule contient un caractère de contrôle invisible : retapez-la.")
    return text or None


def _scalar_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 2412345678.0 from a numeric cell is the reference 2412345678
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value)


def _text(value, column: Column, _referential) -> str | None:
    text = clean_text(value)
    if text and column.max_length and len(text) > column.max_length:
        raise CellError(
            f"Texte trop long ({len(text)} caractères, {column.max_length} au maximum)."
        )
    return text


def _postal_code(value, column, referential) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000:
        return f"{value:05d}"  # Excel drops the leading zero of numeric codes (01000 → 1000)
    return _text(value, column, referential)


def _phone(value, column, referential) -> str | None:
    """The number in E.164 (``stages.phones``), as the participant form stores it."""
    if isinstance(value, int) and not isinstance(value, bool) and len(str(value)) == 9:
        value = f"0{value}"  # a French number typed as a number lost its leading zero
    text = clean_text(value, signed_number_ok=True)
    try:
        return parse_phone(text)
    except PhoneError as error:
        raise CellError(error.message) from None


def _email(value, column, referential) -> str | None:
    text = _text(value, column, referential)
    if text and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise CellError("Adresse électronique invalide.")
    return text


_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?: \d{1,2}[:h]\d{2}(?::\d{2})?)?")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_DATE_HINT = "écrivez-la JJ/MM/AAAA, par exemple 15/03/2024."


def _date(value, column, referential) -> date | None:
    """A date from a date cell, ``JJ/MM/AAAA`` or ``AAAA-MM-JJ`` (an hour 00:00 is tolerated)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _excel_serial(value)
    text = clean_text(value)
    if text is None:
        return None
    if match := _DMY.fullmatch(text):
        day, month, year = (int(g) for g in match.groups())
    elif match := _ISO.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
    else:
        raise CellError(f"Date illisible : {_DATE_HINT}")
    if not 1900 <= year <= 2100:
        raise CellError(f"Année invalide : {_DATE_HINT}")
    try:
        return date(year, month, day)
    except ValueError:
        raise CellError("Cette date n'existe pas (jour ou mois impossible).") from None


def _excel_serial(number: float) -> date:
    """A date cell whose format was lost reads as Excel's day count: 45366 is 15/03/2024."""
    from openpyxl.utils.datetime import from_excel

    if not 1 <= number <= 73_050:  # up to 31/12/2099
        raise CellError(f"Date illisible : {_DATE_HINT}")
    return from_excel(number).date()


_AMOUNT = re.compile(r"[+-]?\d+(?:[.,]\d{1,2})?")


def _amount(value, column, referential) -> int | None:
    """Cents from ``180``, ``180,00``, ``180 €`` or a numeric cell."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        cents = round(value * 100)
        if abs(value * 100 - cents) > 1e-6:
            raise CellError("Montant au centime près attendu (deux décimales au plus).")
        return cents
    text = clean_text(value, signed_number_ok=True)
    if text is None:
        return None
    compact = re.sub(r"\s|€|(?i:eur(?:os?)?)$", "", text)
    if not _AMOUNT.fullmatch(compact):
        raise CellError("Montant illisible : écrivez par exemple 180 ou 180,00 €.")
    return int(Decimal(compact.replace(",", ".")) * 100)


def _choice_map(enum_cls, extra: dict[str, str]) -> dict[str, object]:
    """Normalized code, French label (with and without its article reference) → member."""
    names = {}
    for member in enum_cls:
        for name in (member.value, member.label, member.label.split(" (")[0]):
            names[normalize(name)] = member
    names.update({normalize(name): enum_cls(code) for name, code in extra.items()})
    return names


_FRAMES = _choice_map(LegalFrame, {
    "Mesure alternative aux poursuites": "alternative_poursuites",
    "Alternatives aux poursuites": "alternative_poursuites",
    "Stage (peine)": "peine_stage",
    "Peine de stage de sensibilisation": "peine_stage",
    "Peine complémentaire de stage": "stage_contravention",
    "Peine complémentaire": "stage_contravention",
    "ordonnance_penale": "stage_contravention",  # the frame's code until migration 0020
})
# A list names the complementary penalty by the procedure that pronounced it: both are kept.
_PROCEDURES = {
    normalize(name): procedure
    for procedure in DecisionProcedure
    for name in (procedure.value, procedure.label, procedure.label.split(" (")[0])
} | {
    normalize("Ordonnance pénale (art. 131-16 9° bis CP)"): DecisionProcedure.ORDONNANCE_PENALE,
    normalize("OP"): DecisionProcedure.ORDONNANCE_PENALE,
    normalize("Tribunal de police"): DecisionProcedure.POLICE_COURT_JUDGMENT,
}
_FRAMES.update({key: LegalFrame.STAGE_CONTRAVENTION for key in _PROCEDURES if key not in _FRAMES})
_PAYERS = _choice_map(Payer, {
    "Personne convoquée": "participant", "Stagiaire": "participant", "Personne": "participant",
    "Autorité": "authority", "Autorité prescriptrice": "authority", "Dispense": "waived",
    "Dispensé(e)": "waived", "Gratuit": "waived",
})
_PAYMENT_STATUSES = _choice_map(PaymentStatus, {
    "Dû": "due", "Non payé": "due", "Impayé": "due", "Payée": "paid", "Réglé": "paid",
    "Acquitté": "paid", "Dispensée": "waived", "Gratuit": "waived",
})


def _choice(names: dict, message: str):
    def convert(value, column, referential):
        text = clean_text(value)
        if text is None:
            return None
        member = names.get(normalize(text))
        if member is None:
            raise CellError(message.format(value=text[:60]))
        return member

    return convert


_frame_choice = _choice(
    _FRAMES,
    "Cadre inconnu « {value} » : indiquez Alternative aux poursuites, Composition pénale, "
    "Peine complémentaire de stage (ordonnance pénale ou jugement du tribunal de police), "
    "Peine de stage ou Sursis probatoire.",
)


def _frame(value, column, referential):
    """The frame named by a cell, with the procedure when the cell names one instead:
    (frame, procedure or None)."""
    frame = _frame_choice(value, column, referential)
    if frame is None:
        return None
    text = clean_text(value)
    procedure = _PROCEDURES.get(normalize(text)) if frame == LegalFrame.STAGE_CONTRAVENTION else None
    return frame, procedure


class Referential:
    """The organizations, loaded once per import so that no row costs a query."""

    def __init__(self, organizations: Iterable[Organization]):
        self.by_name: dict[str, list[Organization]] = {}
        self.by_short_name: dict[str, list[Organization]] = {}
        for org in organizations:
            self.by_name.setdefault(normalize(org.name), []).append(org)
            self.by_short_name.setdefault(normalize(org.short_name), []).append(org)

    @classmethod
    def load(cls) -> Referential:
        return cls(db.session.scalars(sa.select(Organization)))

    def authority(self, value, column, referential=None) -> Organization | None:
        """The referring authority named (full or short name) by a cell."""
        text = clean_text(value)
        if text is None:
            return None
        key = normalize(text)
        matches = self.by_name.get(key) or self.by_short_name.get(key) or []
        live = [org for org in matches if org.archived_at is None]
        authorities = [org for org in live if org.kind in AUTHORITY_KINDS]
        shown = text[:60]
        if not matches:
            raise CellError(
                f"Autorité inconnue « {shown} » : indiquez le nom ou le nom court d'un parquet, "
                "d'un tribunal ou d'un SPIP enregistré dans Organisations."
            )
        if not live:
            raise CellError(f"L'autorité « {shown} » est archivée.")
        if not authorities:
            raise CellError(
                f"« {shown} » n'est pas une autorité prescriptrice (parquet, tribunal ou SPIP)."
            )
        if len(authorities) > 1:
            raise CellError(f"« {shown} » désigne plusieurs autorités : indiquez le nom complet.")
        return authorities[0]


_CONVERTERS = {
    Kind.TEXT: _text,
    Kind.POSTAL_CODE: _postal_code,
    Kind.PHONE: _phone,
    Kind.EMAIL: _email,
    Kind.DATE: _date,
    Kind.AMOUNT: _amount,
    Kind.FRAME: _frame,
    Kind.AUTHORITY: lambda value, column, referential: referential.authority(value, column),
    Kind.PAYER: _choice(
        _PAYERS, "Payeur inconnu « {value} » : indiquez La personne convoquée, L'autorité "
        "prescriptrice ou Dispensé."
    ),
    Kind.PAYMENT: _choice(
        _PAYMENT_STATUSES, "Statut du paiement inconnu « {value} » : indiquez À payer, Payé ou "
        "Dispensé."
    ),
}


def convert_cell(column: Column, value, is_formula: bool, referential: Referential):
    """The cell's value for ``column``, or ``CellError``."""
    if is_formula and column.kind not in COMPUTABLE_KINDS:
        raise CellError(FORMULA_MESSAGE)
    if is_formula and value is None:
        raise CellError(
            "Cellule calculée par une formule dont le résultat n'est pas enregistré : ouvrez le "
            "fichier dans Excel et enregistrez-le, ou remplacez la formule par sa valeur."
        )
    return _CONVERTERS[column.kind](value, column, referential)
