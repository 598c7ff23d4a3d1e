"""Verification codes: drawn at random, printed grouped by four, read back from what is typed.

Each attestation carries one, printed under a QR code whose ``verification_url`` leads to the
public verification page.
"""
from __future__ import annotations

import secrets

from stages.public_url import public_base_url

# Crockford's base32: digits and capitals without I, L, O, U, so a code read aloud or retyped
# from paper is unambiguous; on input O is read as 0 and I or L as 1.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
CODE_BITS = 80  # 16 symbols × 5 bits, all from secrets.token_bytes
_CODE_INPUT_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE_SEPARATORS = str.maketrans("", "", " -_.\u00a0\u202f\t")
# Longest text accepted as a code before even trying to read it.
MAX_CODE_INPUT = 64


# ---------------------------------------------------------------------------------------------
# Verification codes


def new_verification_code() -> str:
    """16 symbols of Crockford base32 drawn from 80 random bits (``secrets``)."""
    value = int.from_bytes(secrets.token_bytes(CODE_BITS // 8), "big")
    return "".join(
        CODE_ALPHABET[(value >> (5 * index)) & 31] for index in reversed(range(CODE_LENGTH))
    )


def format_code(code: str) -> str:
    """The stored code grouped by four for reading: ``ABCD-EFGH-JKMN-PQRS``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize_code(raw: str | None) -> str | None:
    """The stored form of a typed or scanned code, or None when it cannot be one.

    Case, spaces and dashes do not matter; O, I and L are read as 0, 1 and 1.
    """
    if not raw or len(raw) > MAX_CODE_INPUT:
        return None
    code = raw.translate(_CODE_SEPARATORS).upper().translate(_CODE_INPUT_ALIASES)
    if len(code) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in code):
        return None
    return code


def verification_url(code: str) -> str:
    """The public URL behind the QR code."""
    return f"{_base_url()}/verification/{format_code(code)}"


def _base_url() -> str:
    return public_base_url()
