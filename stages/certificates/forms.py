"""The public verification form."""
from __future__ import annotations

from wtforms import StringField
from wtforms.validators import DataRequired, Length

from stages.certificates.codes import MAX_CODE_INPUT
from stages.forms import BaseForm, strip_filter


class VerificationForm(BaseForm):
    """The code typed by whoever holds a paper attestation."""

    code = StringField(
        "Code de vérification",
        validators=[
            DataRequired("Saisissez le code de vérification imprimé sous le code QR."),
            Length(max=MAX_CODE_INPUT, message="Ce code est trop long."),
        ],
        filters=[strip_filter],
        description=(
            "16 caractères, imprimés sous le code QR de l'attestation "
            "(par exemple ABCD-EFGH-JKMN-PQRS). Majuscules ou minuscules, tirets facultatifs."
        ),
    )
