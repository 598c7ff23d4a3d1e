"""``flask stages backup`` and ``flask stages restore``: whole-database backups (see stages.backup).

``stages.cli`` adds these commands to ``flask stages``. The backup folder's old files are pruned
by the retention purge, which this module registers with at start-up (imports run one way: the
privacy area cannot call the app layer).
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask import current_app

from stages import backup
from stages.errors import DomainError
from stages.extensions import db
from stages.privacy import retention


def backup_dir() -> Path:
    """Where backups go by default: ``BACKUP_DIR``, or ``instance/backups``."""
    configured = current_app.config.get("BACKUP_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "backups"


@retention.copies_expired.register
def prune_expired_backups(*, before: datetime) -> dict[str, int]:
    """The purge job deletes the backups of the default folder taken before ``before``."""
    return {"sauvegardes supprimées": backup.prune_backups(backup_dir(), before)}


def _database_url():
    return db.engine.url


def _human_size(size: int) -> str:
    """« 1,4 Mo » as French users read sizes."""
    if size < 1024:
        return f"{size} octets"
    value, unit = size / 1024, "Ko"
    for bigger in ("Mo", "Go"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}".replace(".", ",")


def _release_connections() -> None:
    """Close this process's database sessions and pooled connections before the base is rewritten."""
    db.session.remove()
    db.engine.dispose()


@click.command("backup")
@click.argument("path", metavar="[FICHIER]", required=False, type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path | None) -> None:
    """Back up the whole database (SQLite: online backup API; PostgreSQL: pg_dump).

    Without FICHIER, writes instance/backups/stages-AAAAMMJJ-HHMMSS.sqlite3 (or .dump); a
    directory as FICHIER receives a file of that name.
    """
    url = _database_url()
    if path is None:
        path = backup.default_backup_path(backup_dir(), url)
    elif path.is_dir():
        path = backup.default_backup_path(path, url)
    try:
        result = backup.backup_database(url, path)
    except (DomainError, OSError) as error:
        raise click.ClickException(_message(error)) from None
    click.echo(f"Sauvegarde écrite : {result.path} ({_human_size(result.size)}).")
    click.echo(
        "Ce fichier contient des données pénales personnelles : conservez-le chiffré, hors du "
        "serveur, et supprimez-le à l'échéance de la durée de conservation."
    )


@click.command("restore")
@click.argument(
    "path", metavar="FICHIER", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--yes", is_flag=True, help="Confirmer le remplacement de TOUTES les données actuelles."
)
@click.option(
    "--sans-sauvegarde",
    "skip_safety_backup",
    is_flag=True,
    help="Ne pas sauvegarder la base actuelle avant de la remplacer.",
)
@with_appcontext
def restore_command(path: Path, yes: bool, skip_safety_backup: bool) -> None:
    """Replace the whole database with a backup made by ``flask stages backup``.

    Refused without --yes. Stop the application and the scheduler first: writes made during
    the restore would be lost. Unless --sans-sauvegarde, the current base is backed up first.
    A backup from an older version of the schema is best restored into an empty base, then
    ``flask db upgrade`` (PostgreSQL's --clean only drops the objects the backup contains).
    """
    url = _database_url()
    if not yes:
        click.echo(
            "Attention : la restauration remplace TOUTES les données actuelles de la base par "
            f"celles de « {path.name} ». Arrêtez l'application et le planificateur de tâches, "
            "puis relancez la commande avec --yes pour confirmer.",
            err=True,
        )
        click.get_current_context().exit(1)
    try:
        backup.check_backup(url, path)
        _release_connections()
        if not skip_safety_backup:
            usual = backup.default_backup_path(backup_dir(), url)
            safety = backup.backup_database(
                url, usual.with_name(f"{usual.stem}-avant-restauration{usual.suffix}")
            )
            click.echo(f"Base actuelle sauvegardée au préalable : {safety.path}")
        backup.restore_database(url, path)
    except (DomainError, OSError) as error:
        raise click.ClickException(_message(error)) from None
    finally:
        # Connections opened before the restore may have cached the old schema's types.
        db.engine.dispose()
    click.echo(f"Base restaurée depuis {path}.")
    restored = backup.schema_revision(url)
    expected = _head_revision()
    if restored and expected and restored != expected:
        click.echo(
            f"La sauvegarde date d'une autre version du schéma (révision {restored}, attendue "
            f"{expected}) : lancez « flask db upgrade » avant de redémarrer l'application."
        )


def _head_revision() -> str | None:
    """The Alembic head of this code's migrations (None if they cannot be read)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    migrate = current_app.extensions.get("migrate")
    if migrate is None:
        return None
    config = Config()
    config.set_main_option("script_location", str(migrate.directory))
    return ScriptDirectory.from_config(config).get_current_head()


def _message(error: Exception) -> str:
    if isinstance(error, DomainError):
        return error.message
    return f"{error.strerror or error} : {error.filename}" if isinstance(error, OSError) else str(error)
