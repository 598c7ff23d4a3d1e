"""Where an uploaded referral list waits between its preview and its import.

Under ``instance/imports/<random token>.<ext>`` (``IMPORT_UPLOAD_DIR`` overrides the folder): never
in the session cookie, never under a name that says whom it concerns. It is deleted once imported,
and any file left over is deleted after 24 h.
"""
from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from flask import current_app

MAX_UPLOAD_AGE_SECONDS = 24 * 3600
EXTENSIONS = ("csv", "xlsx")
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def upload_dir() -> Path:
    """The folder of the files waiting for their import (created private)."""
    folder = Path(
        current_app.config.get("IMPORT_UPLOAD_DIR")
        or os.path.join(current_app.instance_path, "imports")
    )
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def purge_old_uploads() -> None:
    """Delete the files of previews nobody confirmed within 24 h."""
    limit = time.time() - MAX_UPLOAD_AGE_SECONDS
    for path in upload_dir().iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
        except FileNotFoundError:  # deleted meanwhile by a concurrent request
            pass


def store_upload(content: bytes) -> tuple[str, str]:
    """Keep the file for the import step under a random name; returns (token, extension)."""
    extension = "xlsx" if content.startswith(b"PK") else "csv"
    token = secrets.token_urlsafe(32)
    descriptor = os.open(upload_dir() / f"{token}.{extension}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    return token, extension


def stored_upload(token: str, extension: str) -> Path | None:
    """The file kept for ``token``, if it is still there."""
    if not TOKEN.fullmatch(token or "") or extension not in EXTENSIONS:
        return None
    path = upload_dir() / f"{token}.{extension}"
    return path if path.is_file() else None
