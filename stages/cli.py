"""``flask stages ...``: demo data and accounts."""
from __future__ import annotations

import secrets

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from stages.auth.models import Role
from stages.errors import DomainError
from stages.extensions import db

stages_cli = AppGroup("stages", help="Commandes d'administration de Stages.")


@stages_cli.command("demo")
@click.option("--seed", default=2026, show_default=True, help="Graine du générateur aléatoire.")
def demo_command(seed: int) -> None:
    """Load realistic demo data (idempotent) and print the demo logins."""
    from stages.demo import DEMO_ACCOUNTS, load_demo

    created = load_demo(seed=seed)
    db.session.commit()
    if created:
        click.echo("Données de démonstration chargées.")
    else:
        click.echo("Données de démonstration déjà présentes : rien à ajouter.")
    click.echo("Comptes de démonstration (adresse / mot de passe / rôle) :")
    for email, _name, role, password, _orgs in DEMO_ACCOUNTS:
        click.echo(f"  {email:<34} {password:<22} {role.label}")


@stages_cli.command("create-user")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="Rôle du compte.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="Nom ou nom court d'une organisation de rattachement (répétable).",
)
@click.option("--name", "full_name", default=None, help="Nom complet (par défaut : l'adresse).")
@click.option(
    "--password",
    default=None,
    help="Mot de passe ; s'il est omis, un mot de passe aléatoire est généré et affiché.",
)
def create_user_command(email, role, scopes, full_name, password) -> None:
    """Create an account with a role and its scope (organizations)."""
    from stages.auth.services import create_user
    from stages.scheduling.models import Organization

    organizations = []
    for scope in scopes:
        org = db.session.scalar(
            sa.select(Organization).where(
                sa.or_(Organization.name == scope, Organization.short_name == scope)
            )
        )
        if org is None:
            raise click.ClickException(f"Organisation inconnue : {scope}")
        organizations.append(org)
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(12)
    try:
        user = create_user(email, full_name or email, Role(role), password, organizations)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Compte créé : {user.email} ({user.role.label}).")
    if generated:
        click.echo(f"Mot de passe provisoire : {password}")
