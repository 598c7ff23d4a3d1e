"""What the questionnaire editor and the answer forms send, read into the services' inputs.

The editor posts one ``texte-<n>``, ``nature-<n>`` and ``ordre-<n>`` per row (a blank text drops
the row); the answer forms one ``item-<id>`` per question (stages.evaluation.answering), and the
tablet ``numero``, the person's number on the sign-in sheet.
"""
from __future__ import annotations

from werkzeug.datastructures import MultiDict

from stages.errors import DomainError
from stages.evaluation.models import ITEM_TEXT_MAX, ItemKind, Questionnaire
from stages.evaluation.questionnaires import MAX_ITEMS, ItemInput
from stages.forms import one_line_filter

# Blank rows the editor offers below the questions.
SPARE_ROWS = 3


def editor_rows(questionnaire: Questionnaire) -> list[dict]:
    """The editor's rows: the questions, then a few blank ones."""
    rows = [{"text": item.text, "kind": item.kind.value} for item in questionnaire.items]
    return rows + [{"text": "", "kind": ItemKind.LIKERT.value}] * max(0, min(SPARE_ROWS, MAX_ITEMS - len(rows)))


def item_inputs(data: MultiDict) -> list[ItemInput]:
    """The questions typed in the editor, in the order asked (``ordre``, then the rows')."""
    rows = []
    for n in range(1, MAX_ITEMS + SPARE_ROWS + 1):
        text = one_line_filter(data.get(f"texte-{n}", "") or "")
        if not text:
            continue
        if len(text) > ITEM_TEXT_MAX:
            raise DomainError(f"Chaque question compte au plus {ITEM_TEXT_MAX} caractères.")
        kind = data.get(f"nature-{n}", "")
        if kind not in {k.value for k in ItemKind}:
            raise DomainError("Nature de question inconnue.")
        order = data.get(f"ordre-{n}", "")
        order = int(order) if order.isascii() and order.isdigit() and len(order) < 4 else n
        rows.append((order, n, ItemInput(ItemKind(kind), text)))
    return [item for _order, _n, item in sorted(rows, key=lambda r: r[:2])]


def read_number(data: MultiDict, numbers: dict[int, object]):
    """The enrollment behind the number chosen on the tablet (one not yet answered)."""
    raw = data.get("numero", "") or ""
    if not (raw.isascii() and raw.isdigit() and len(raw) < 4) or int(raw) not in numbers:
        raise DomainError("Choisissez votre numéro sur la feuille d'émargement.")
    return numbers[int(raw)]
