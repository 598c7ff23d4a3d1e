"""The form that creates a personal access token on « Mon compte »."""
from __future__ import annotations

from wtforms import DateField, StringField
from wtforms.validators import InputRequired, Length

from stages.forms import LINE, BaseForm


class TokenForm(BaseForm):
    """A token's name (what script uses it) and its expiry date."""

    name = StringField(
        "Nom du jeton",
        description="Pour le reconnaître dans la liste : l'outil ou le script qui l'utilise.",
        validators=[InputRequired("Donnez un nom au jeton."), Length(max=100, message="100 caractères au plus.")],
        **LINE,
    )
    expires_on = DateField(
        "Date d'expiration",
        description="Le jeton cesse de fonctionner à la fin de ce jour (un an au plus).",
        validators=[InputRequired("Indiquez la date d'expiration.")],
    )
