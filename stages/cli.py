"""``flask stages ...``: demo data and accounts."""
from __future__ import annotations

import imaplib
import secrets

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from stages.auth.models import Role
from stages.errors import DomainError
from stages.extensions import db
from stages.wording import ngettext

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
    from stages.auth.models import Organization

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
        user = create_user(
            email, full_name or email, Role(role), password, organizations, temporary=generated
        )
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Compte créé : {user.email} ({user.role.label}).")
    if generated:
        click.echo(f"Mot de passe provisoire (à remplacer à la première connexion) : {password}")



@stages_cli.command("import-referrals")
@click.argument("path", metavar="FICHIER", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--association",
    "association_name",
    default=None,
    help="Nom ou nom court de l'association chargée des stages (par défaut : la seule "
    "association enregistrée).",
)
@click.option(
    "--authority",
    "authority_name",
    default=None,
    help="Nom ou nom court de l'autorité prescriptrice qui a envoyé la liste, retenue pour "
    "chaque ligne dont la colonne « Autorité » est vide ou absente (la liste d'un parquet n'en a "
    "pas). Les choix de colonnes faits à l'import en ligne pour cette autorité s'appliquent.",
)
@click.option("--dry-run", is_flag=True, help="Afficher l'aperçu sans rien enregistrer.")
def import_referrals_command(
    path: str, association_name: str | None, authority_name: str | None, dry_run: bool
) -> None:
    """Import a referral list (CSV or XLSX): a French preview, then an all-or-nothing import.

    Exits with status 1, having written nothing, when the file or any of its rows has an error.
    """
    import os

    from stages.enrollment import importer

    ctx = click.get_current_context()
    try:
        association = _import_association(association_name)
        authority = _import_authority(authority_name) if authority_name else None
        importer.check_size(os.path.getsize(path))  # before reading a 20 MB file into memory
        with open(path, "rb") as handle:
            table = importer.read_table(handle.read(), os.path.basename(path))
        with _progressbar(len(table.rows), "Vérification") as bar:
            report = importer.plan_import(table, association, authority=authority,
                                          progress=bar.update)
    except DomainError as error:
        db.session.rollback()
        click.echo(f"Erreur : {error.message}", err=True)
        ctx.exit(1)
    _echo_import_report(report)
    if not report.ok:
        db.session.rollback()
        click.echo("Aucune mesure importée : corrigez ces lignes puis relancez l'import.", err=True)
        ctx.exit(1)
    if dry_run:
        db.session.rollback()
        click.echo("Simulation (--dry-run) : rien n'a été enregistré.")
        return
    try:
        with _progressbar(len(report.to_create), "Import") as bar:
            importer.create_from_plan(report, progress=bar.update)
        db.session.commit()
    except sa.exc.IntegrityError:
        # Another import of the same rows committed first (unique import key): nothing is kept.
        db.session.rollback()
        click.echo(
            "Erreur : une partie de ces mesures vient d'être importée par ailleurs ; rien n'a été "
            "enregistré. Relancez la commande.",
            err=True,
        )
        ctx.exit(1)
    click.echo(ngettext("%(num)d mesure importée", "%(num)d mesures importées", report.created)
               + f" pour {association.name}.")


def _progressbar(length: int, label: str):
    """A progress bar on stderr, so that the preview on stdout stays clean for scripts."""
    import sys

    return click.progressbar(length=length, label=label, file=sys.stderr)


def _live_organizations(*kinds):
    from stages.auth.models import Organization

    return db.session.scalars(
        sa.select(Organization)
        .where(Organization.kind.in_(kinds), Organization.archived_at.is_(None))
        .order_by(Organization.name)
    ).all()


def _import_authority(name: str):
    """The referring authority named by ``--authority`` (name or short name)."""
    from stages.auth.models import AUTHORITY_KINDS
    from stages.enrollment.importer import normalize

    authorities = _live_organizations(*AUTHORITY_KINDS)
    for org in authorities:
        if normalize(name) in (normalize(org.name), normalize(org.short_name)):
            return org
    known = ", ".join(org.short_name for org in authorities) or "aucune"
    raise DomainError(f"Autorité prescriptrice inconnue : {name} (autorités : {known}).")


def _import_association(name: str | None):
    """The association named by ``--association`` (name or short name), or the only one."""
    from stages.auth.models import OrganizationKind
    from stages.enrollment.importer import normalize

    associations = _live_organizations(OrganizationKind.ASSOCIATION)
    if name is None:
        if len(associations) == 1:
            return associations[0]
        known = ", ".join(org.short_name for org in associations) or "aucune"
        raise DomainError(
            "Précisez l'association chargée des stages avec --association "
            f"(associations : {known})."
        )
    for org in associations:
        if normalize(name) in (normalize(org.name), normalize(org.short_name)):
            return org
    raise DomainError(f"Association inconnue : {name}")


def _echo_import_report(report, limit: int = 50) -> None:
    """The French preview: how the file was read, the counts, every error, remarks by line."""
    for note in report.notes:
        click.echo(note)
    click.echo("Colonnes :")
    for assignment in report.columns:
        click.echo(f"  « {assignment.header} » : {assignment.description}")
    click.echo(report.summary())
    if report.errors:
        click.echo("Erreurs :")
    for error in report.errors:
        click.echo(f"  {error}")
    remarks = [row for row in report.rows if row.outcome != "new_person"]
    for row in remarks[:limit]:
        click.echo(f"  Ligne {row.line} : {row.remark}")
    if len(remarks) > limit:
        click.echo(f"  … et {len(remarks) - limit} autres lignes déjà connues ou en double.")


@stages_cli.command("mail-bounces")
@click.option("--maildir", type=click.Path(file_okay=False), default=None,
              help="Dossier Maildir des avis de non-remise (sinon STAGES_BOUNCE_MAILDIR).")
@click.option("--imap-host", default=None, help="Serveur IMAP (TLS, port 993 ; sinon STAGES_BOUNCE_IMAP_HOST).")
@click.option("--imap-port", type=click.IntRange(1, 65535), default=None, help="Port IMAPS.")
@click.option("--imap-user", default=None, help="Identifiant IMAP.")
@click.option("--imap-password-env", default=None,
              help="Variable d'environnement qui contient le mot de passe IMAP "
                   "(par défaut STAGES_BOUNCE_IMAP_PASSWORD).")
@click.option("--imap-folder", default=None, help="Dossier IMAP à lire (par défaut INBOX).")
@click.option("--imap-move-to", default=None, help="Dossier IMAP où ranger les messages lus.")
def mail_bounces_command(maildir, imap_host, imap_port, imap_user, imap_password_env, imap_folder,
                         imap_move_to) -> None:
    """Read the bounces (DSNs) of the convocation emails, each message once."""
    from flask import current_app

    from stages.enrollment.convocation import bounces

    try:
        messages = bounces.configured_messages(
            current_app.config, maildir=maildir, imap_host=imap_host, imap_user=imap_user,
            imap_password_env=imap_password_env, imap_folder=imap_folder,
            imap_move_to=imap_move_to, imap_port=imap_port,
        )
        if messages is None:
            raise click.ClickException(
                "Aucune boîte à lire : indiquez --maildir ou --imap-host (ou STAGES_BOUNCE_MAILDIR, "
                "STAGES_BOUNCE_IMAP_HOST)."
            )
        run = bounces.process_mailbox(messages)
    except (OSError, ValueError, imaplib.IMAP4.error) as error:
        raise click.ClickException(_mailbox_error(error)) from None
    click.echo(run.message())


def _mailbox_error(error: Exception) -> str:
    """A French message that names the failure, never the password."""
    if isinstance(error, ValueError):
        return str(error)
    if isinstance(error, imaplib.IMAP4.error):
        return "Le serveur IMAP a refusé la connexion ou la lecture du dossier."
    if isinstance(error, FileNotFoundError):
        return "Dossier Maildir introuvable (il doit contenir cur/ et new/)."
    return f"Boîte aux lettres illisible ({type(error).__name__})."


@stages_cli.command("yearly-report")
@click.option("--year", type=click.IntRange(2016, 2100), required=True, help="Année civile du rapport.")
@click.option("--association", "association_id", type=int, default=None, help="Identifiant de l'association.")
@click.option("--authority", "authority_id", type=int, default=None,
              help="Identifiant de l'autorité prescriptrice (parquet, tribunal, SPIP).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="Fichier à écrire : .pdf (avec graphiques) ou .csv.")
def yearly_report_command(year, association_id, authority_id, output) -> None:
    """Write an association's or an authority's yearly activity report (PDF or CSV); audited."""
    from stages.auth.audit import audit
    from stages.auth.models import AUTHORITY_KINDS, Organization, OrganizationKind
    from stages.reports.yearly import compute_yearly_report
    from stages.reports.yearly_documents import yearly_csv, yearly_pdf

    if (association_id is None) == (authority_id is None):
        raise click.UsageError("Indiquez soit --association, soit --authority.")
    kinds = (OrganizationKind.ASSOCIATION,) if association_id is not None else AUTHORITY_KINDS
    organization = db.session.get(Organization, association_id or authority_id)
    if organization is None or organization.kind not in kinds:
        raise click.BadParameter("aucune organisation de ce type sous cet identifiant.")
    fmt = "csv" if output.lower().endswith(".csv") else "pdf"
    report = compute_yearly_report(organization, year)
    with open(output, "wb") as handle:
        handle.write(yearly_pdf(report) if fmt == "pdf" else yearly_csv(report))
    audit("yearly_report.exported", organization, details=f"{year} ({fmt.upper()}, ligne de commande)")
    db.session.commit()
    click.echo(f"Rapport d'activité {year} de {organization.name} écrit dans {output}"
               + (" (provisoire)." if report.provisional else "."))


def register_cli(app) -> None:
    """``flask stages``: these commands, the scheduler's and the backups'; and ``generate`` when
    the benchmark package is at hand (a source checkout, not an installed package)."""
    from stages.backup_cli import backup_command, restore_command
    from stages.jobs.cli import jobs_group, scheduler_command

    for command in (scheduler_command, jobs_group, backup_command, restore_command):
        stages_cli.add_command(command)
    try:
        from bench.cli import generate_command
    except ImportError:
        pass
    else:
        stages_cli.add_command(generate_command)
    app.cli.add_command(stages_cli)
