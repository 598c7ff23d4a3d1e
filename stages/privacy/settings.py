"""The retention periods in force: an admin's choice (« Conservation des données »), else the
environment's defaults (config.py). The nightly purge and the README's table read them here."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from flask import current_app

from stages.auth.audit import audit
from stages.auth.models import User
from stages.errors import DomainError
from stages.extensions import db
from stages.privacy.models import RetentionSettings
from stages.timeutil import now_utc

# What each period is, in the words of the admin page (the bounds are the database's too).
PERIODS = {
    "measure_days": ("Identité des personnes, après la clôture de leur mesure", 180, 3650),
    "grace_days": ("Délai de clôture d'une mesure restée sans suite, après sa date limite", 0, 365),
    "audit_days": ("Entrées du journal d'audit", 90, 1095),
    "backup_days": ("Sauvegardes du dossier de sauvegarde", 1, 3650),
}


@dataclass(frozen=True)
class Retention:
    measure_days: int
    grace_days: int
    audit_days: int
    backup_days: int
    from_environment: bool = True


def current_retention() -> Retention:
    row = db.session.get(RetentionSettings, 1)
    if row is not None:
        return Retention(row.measure_days, row.grace_days, row.audit_days, row.backup_days, False)
    config = current_app.config
    return Retention(config["RETENTION_MEASURE_DAYS"], config["RETENTION_GRACE_DAYS"],
                     config["RETENTION_AUDIT_DAYS"], config["RETENTION_BACKUP_DAYS"])


def set_retention(values: dict[str, int], *, by: User) -> Retention:
    """Save the periods an admin chose; audited with the former and the new values."""
    for key, (label, low, high) in PERIODS.items():
        value = values.get(key)
        if not isinstance(value, int) or not low <= value <= high:
            raise DomainError(f"{label} : indiquez un nombre de jours entre {low} et {high}.")
    if values["backup_days"] > values["measure_days"]:
        raise DomainError("Une sauvegarde contient les identités : elle ne peut pas être gardée plus "
                          "longtemps que les identités elles-mêmes.")
    before = current_retention()
    row = db.session.get(RetentionSettings, 1) or RetentionSettings(id=1)
    for key in PERIODS:
        setattr(row, key, values[key])
    row.updated_at, row.updated_by_id = now_utc(), by.id
    db.session.add(row)
    db.session.flush()
    changes = [f"{key} {asdict(before)[key]} → {values[key]}" for key in PERIODS if asdict(before)[key] != values[key]]
    audit("retention.changed", details=", ".join(changes) or "inchangées", user=by)
    return current_retention()
