"""Login, second-factor, password, account-management and organization forms."""
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from stages.auth.models import OrganizationKind, Role
from stages.forms import BaseForm, LINE



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


class TotpCodeForm(BaseForm):
    """A six-digit code from the authenticator app (login second step, enrolment, disabling)."""

    code = StringField(
        "Code à 6 chiffres",
        description="Le code affiché en ce moment par votre application d'authentification.",
        validators=[DataRequired("Saisissez le code à 6 chiffres."), Length(max=12)],
        **LINE,
    )


class ChangePasswordForm(BaseForm):
    current_password = PasswordField(
        "Mot de passe actuel", validators=[DataRequired("Saisissez votre mot de passe actuel.")]
    )
    new_password = PasswordField(
        "Nouveau mot de passe",
        description="Au moins 12 caractères, difficile à deviner : une phrase de plusieurs mots "
        "sans rapport entre eux convient bien.",
        validators=[DataRequired("Saisissez un nouveau mot de passe."), Length(max=200)],
    )
    confirm_password = PasswordField(
        "Confirmez le nouveau mot de passe",
        validators=[
            DataRequired("Confirmez le nouveau mot de passe."),
            EqualTo("new_password", "Les deux mots de passe ne correspondent pas."),
        ],
    )


class UserEditForm(BaseForm):
    """Admin: the role, scope and state of an account."""

    role = SelectField("Rôle", choices=Role.choices())
    organizations = SelectMultipleField(
        "Rattachement",
        description="Associations pour les organisateur·rices et intervenant·es ; autorités "
        "prescriptrices (parquet, tribunal, SPIP) pour les référent·es. Aucun pour un·e "
        "administrateur·rice.",
        coerce=int,
    )
    active = BooleanField(
        "Compte actif",
        description="Un compte désactivé ne peut plus se connecter ; il n'est jamais supprimé "
        "(le journal des accès y renvoie).",
    )


class UserCreateForm(UserEditForm):
    """Admin: a new account."""

    full_name = StringField(
        "Nom complet",
        validators=[DataRequired("Indiquez le nom complet."), Length(max=200)],
        **LINE,
    )
    email = EmailField(
        "Adresse électronique",
        validators=[
            DataRequired("Indiquez l'adresse électronique."),
            Email("Adresse électronique invalide."),
            Length(max=254),
        ],
        **LINE,
    )
    password = PasswordField(
        "Mot de passe",
        description="Laissez vide pour générer un mot de passe provisoire, affiché une seule "
        "fois, à transmettre à la personne par un canal sûr.",
        validators=[Optional(), Length(max=200)],
    )
    active = None  # a new account is active


class OrganizationForm(BaseForm):
    name = StringField("Nom", validators=[DataRequired("Indiquez le nom."), Length(max=200)], **LINE)
    short_name = StringField("Nom court", validators=[DataRequired("Indiquez un nom court."), Length(max=60)], **LINE)
    kind = SelectField("Type", choices=OrganizationKind.choices())
    address = StringField("Adresse", validators=[Optional(), Length(max=300)], **LINE)
    email = StringField(
        "Adresse électronique",
        validators=[Optional(), Email("Adresse électronique invalide."), Length(max=254)],
        **LINE,
    )
    phone = StringField("Téléphone", validators=[Optional(), Length(max=40)], **LINE)
    lateness_counts_as_attended = BooleanField(
        "Un retard ou un départ anticipé compte comme une présence à la demi-journée",
        description="Règle de l'association, appliquée à la clôture de ses stages. Décochée, une "
        "demi-journée avec un retard ou un départ anticipé n'est suivie qu'en partie.",
        default=True,
    )
