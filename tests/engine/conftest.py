"""Fixtures of the engine tests: install a small app into the test database."""
from __future__ import annotations

from typing import Any

import pytest
from engine_apps import build_app


@pytest.fixture
def install(runtime):
    """Installs an app built from entity documents; returns the runtime's fresh registry."""
    from engine.apps import install_app

    def _install(*entities: dict[str, Any], version: str = "1.0.0"):
        install_app(runtime, build_app(*entities, version=version))
        return runtime.registry()

    return _install

