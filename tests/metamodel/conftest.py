"""Fixtures of the metamodel tests: small in-memory apps as documents keyed by relative path."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def read_json_folder(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(folder.rglob("*.json"))}


@pytest.fixture
def read_folder():
    """The documents of a folder as parsed JSON keyed by relative path (the loader's input)."""
    return read_json_folder


@pytest.fixture
def small_app_path() -> Path:
    return FIXTURES / "small_app"


@pytest.fixture
def broken_app_path() -> Path:
    return FIXTURES / "broken_app"


@pytest.fixture
def documents(small_app_path) -> dict:
    """A fresh, valid copy of the small app's documents, for tests to break one thing in."""
    return copy.deepcopy(read_json_folder(small_app_path))
