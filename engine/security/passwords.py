"""Passwords too common to accept: the 30,000 most used passwords of zxcvbn's leaked-password list.

An exact (case-insensitive) match, rather than zxcvbn's score, so the refusal is explainable in one
sentence and a long passphrase of ordinary words stays acceptable.
"""
from __future__ import annotations

from functools import cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS


@cache
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common_password(password: str) -> bool:
    """Whether `password` is on the common-password list (ignoring case and surrounding spaces)."""
    return password.strip().lower() in _common_passwords()


def is_one_repeated_character(password: str) -> bool:
    """Whether `password` is one character over and over ("aaaaaaaaaa", "!!!!!!!!!!!!")."""
    return len(set(password)) == 1
