"""Login and password forms."""
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from stages.forms import BaseForm


class LoginForm(BaseForm):
    email = EmailField(
        "Adresse électronique",
        validators=[DataRequired("Saisissez votre adresse électronique."), Length(max=254)],
    )
    password = PasswordField(
        "Mot de passe",
        validators=[DataRequired("Saisissez votre mot de passe."), Length(max=200)],
    )
    remember = BooleanField("Rester connecté·e sur cet appareil")


class ChangePasswordForm(BaseForm):
    current_password = PasswordField(
        "Mot de passe actuel", validators=[DataRequired("Saisissez votre mot de passe actuel.")]
    )
    new_password = PasswordField(
        "Nouveau mot de passe",
        description="Au moins 12 caractères.",
        validators=[DataRequired("Saisissez un nouveau mot de passe."), Length(max=200)],
    )
    confirm_password = PasswordField(
        "Confirmez le nouveau mot de passe",
        validators=[
            DataRequired("Confirmez le nouveau mot de passe."),
            EqualTo("new_password", "Les deux mots de passe ne correspondent pas."),
        ],
    )
