"""Helpers for string enums stored as text with a CHECK constraint (portable, readable in SQL)."""
from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa


class LabelledEnum(StrEnum):
    """A string enum whose members carry a French label: ``ADMIN = "admin", "Administrateur·rice"``."""

    label: str

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def choices(cls):
        """WTForms choices: each value with its French label."""
        from stages.forms import select_choices

        return select_choices((member.value, member.label) for member in cls)


def enum_column_type(enum_cls: type[StrEnum], name: str) -> sa.Enum:
    """A VARCHAR with a named CHECK constraint listing the enum's values."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum_cls) + 8,
        values_callable=lambda cls: [member.value for member in cls],
        validate_strings=True,
    )
