"""Backups of the whole database, and restoring one: SQLite and PostgreSQL.

- SQLite: the ``sqlite3`` online backup API copies a consistent snapshot while the app keeps
  running (copying the file by hand could catch a half-written page or miss the WAL). Restoring
  uses the same API the other way, so the live file is rewritten under SQLite's own lock.
- PostgreSQL: ``pg_dump --format=custom`` (compressed, restorable table by table) and
  ``pg_restore --clean --if-exists --no-owner --single-transaction``: the restore is all or
  nothing, a failure half-way leaves the database as it was.

Backups hold criminal-offence data (GDPR art. 10): files are created readable by their owner
only (0600) in a directory only they can enter (0700), and written under a temporary name then
renamed, so a crash never leaves a truncated file that looks like a backup. The password of a
PostgreSQL URL goes to the tools through ``PGPASSWORD``, never on a command line that ``ps``
shows to every local user.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from stages.errors import DomainError
from stages.timeutil import local_to_utc, now_utc, to_local

SQLITE_SUFFIX = ".sqlite3"
POSTGRES_SUFFIX = ".dump"
STAMP_FORMAT = "%Y%m%d-%H%M%S"
_BACKUP_NAME = re.compile(
    r"stages-(?P<stamp>\d{8}-\d{6})(-avant-restauration)?(\.sqlite3|\.dump)"
)
# A custom-format pg_dump archive starts with these bytes.
PGDMP_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int


def default_backup_path(directory: Path, url: sa.engine.URL) -> Path:
    """``<directory>/stages-YYYYmmdd-HHMMSS.<sqlite3|dump>``, named in local (Paris) time."""
    stamp = to_local(now_utc()).strftime(STAMP_FORMAT)
    suffix = SQLITE_SUFFIX if _is_sqlite(url) else POSTGRES_SUFFIX
    return directory / f"stages-{stamp}{suffix}"


def prune_backups(directory: Path, before: datetime) -> int:
    """Delete the backups in ``directory`` taken before ``before``; returns how many.

    Only the files this module names (``stages-<stamp>.sqlite3|.dump``, and the safety copies
    ``stages-<stamp>-avant-restauration...`` taken before a restore), dated by the stamp in
    their name: a copy or a restore may change a file's modification time, never its name.
    Anything else in the folder is left alone.
    """
    if not directory.is_dir():
        return 0
    deleted = 0
    for path in sorted(directory.iterdir()):
        match = _BACKUP_NAME.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        stamp = datetime.strptime(match["stamp"], STAMP_FORMAT)  # Paris wall-clock time
        taken = local_to_utc(stamp.date(), stamp.time())
        if taken < before:
            path.unlink()
            deleted += 1
    return deleted


def backup_database(url: sa.engine.URL, destination: Path) -> BackupResult:
    """Write a consistent backup of the database at ``url`` to ``destination``."""
    destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Written next to the destination (same filesystem, so the final rename is atomic).
    handle, temporary = tempfile.mkstemp(
        prefix=".partielle-", suffix=destination.suffix, dir=destination.parent
    )
    os.close(handle)  # mkstemp created it 0600: the tools write into a private file
    temporary_path = Path(temporary)
    try:
        if _is_sqlite(url):
            _sqlite_backup(_sqlite_path(url), temporary_path)
        elif _is_postgres(url):
            _pg_dump(url, temporary_path)
        else:
            raise DomainError(f"Sauvegarde impossible : base « {url.get_backend_name()} » non prise en charge.")
        os.replace(temporary_path, destination)
    finally:
        temporary_path.unlink(missing_ok=True)
    return BackupResult(destination, destination.stat().st_size)


def check_backup(url: sa.engine.URL, source: Path) -> None:
    """Refuse, before anything is overwritten, a file that is not a backup of this kind of base."""
    with open(source, "rb") as handle:
        head = handle.read(16)
    if _is_sqlite(url):
        if head != SQLITE_MAGIC:
            raise DomainError("Ce fichier n'est pas une sauvegarde SQLite de Stages.")
        with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise DomainError("Cette sauvegarde SQLite est endommagée : restauration refusée.")
            has_schema = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
        if not has_schema:
            raise DomainError("Ce fichier SQLite n'est pas une sauvegarde de Stages.")
    elif _is_postgres(url):
        if not head.startswith(PGDMP_MAGIC):
            raise DomainError(
                "Ce fichier n'est pas une sauvegarde PostgreSQL (format « custom » de pg_dump)."
            )
        listing = _run([_tool("pg_restore"), "--list", str(source)], env=os.environ.copy())
        if " TABLE public alembic_version " not in listing:
            raise DomainError("Cette archive pg_dump n'est pas une sauvegarde de Stages.")
    else:
        raise DomainError(f"Restauration impossible : base « {url.get_backend_name()} » non prise en charge.")


def restore_database(url: sa.engine.URL, source: Path) -> None:
    """Replace the whole content of the database at ``url`` with the backup ``source``.

    The caller disposes of its connection pool first: pooled connections would hold locks
    (PostgreSQL) or cached pages of the old content.
    """
    check_backup(url, source)
    if _is_sqlite(url):
        _sqlite_restore(source, _sqlite_path(url))
    else:
        _pg_restore(url, source)


def schema_revision(url: sa.engine.URL) -> str | None:
    """The Alembic revision recorded in the database (None when the table is missing)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------
# SQLite


def _is_sqlite(url: sa.engine.URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _is_postgres(url: sa.engine.URL) -> bool:
    return url.get_backend_name() == "postgresql"


def _sqlite_path(url: sa.engine.URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise DomainError("Une base SQLite en mémoire ne peut être ni sauvegardée ni restaurée.")
    return Path(url.database)


def _sqlite_backup(source: Path, destination: Path) -> None:
    if not source.exists():
        raise DomainError(f"Base SQLite introuvable : {source}")
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)
        # A self-contained file: the live base runs in WAL mode, the copy needs no -wal file.
        dst.execute("PRAGMA journal_mode=DELETE")
        if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise DomainError("La copie de la base SQLite est incohérente : sauvegarde annulée.")


def _sqlite_restore(source: Path, destination: Path) -> None:
    with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src:
        with closing(sqlite3.connect(destination, timeout=30)) as dst:
            # The backup API takes the destination's write lock for the whole copy: a writer
            # in between waits (busy timeout) instead of mixing old and new pages.
            src.backup(dst)


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def libpq_connection(url: sa.engine.URL) -> tuple[str, dict[str, str]]:
    """A libpq URL (no driver, no password) and the environment that carries the password.

    ``postgresql+psycopg://user:secret@host:5432/db?sslmode=require`` gives
    ``postgresql://user@host:5432/db?sslmode=require`` and ``PGPASSWORD=secret``.
    """
    env = os.environ.copy()
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    # Rebuilt field by field: URL.set(password=None) would leave the password in place.
    plain = sa.engine.URL.create(
        "postgresql", username=url.username, host=url.host, port=url.port,
        database=url.database, query=url.query,
    )
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DomainError(
            f"L'outil « {name} » (client PostgreSQL) est introuvable : installez le paquet "
            "postgresql-client de la même version majeure que le serveur."
        )
    return path


def _run(command: list[str], env: dict[str, str]) -> str:
    """Run a PostgreSQL client tool; its own message (French when the locale is) on failure."""
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise DomainError(
            f"{Path(command[0]).name} a échoué (code {result.returncode}) : "
            + (" ".join(message[-3:]) if message else "aucun message")
        )
    return result.stdout


def _pg_dump(url: sa.engine.URL, destination: Path) -> None:
    conninfo, env = libpq_connection(url)
    _run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={destination}", f"--dbname={conninfo}"],
        env=env,
    )


def _pg_restore(url: sa.engine.URL, source: Path) -> None:
    conninfo, env = libpq_connection(url)
    _run(
        [
            _tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
            "--exit-on-error", f"--dbname={conninfo}", str(source),
        ],
        env=env,
    )
