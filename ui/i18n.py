"""Languages of the UI: English and 中文, chosen per user; catalogues compiled when the app starts.

UI strings go through Flask-Babel; labels from metadata through `label_text` in the user's locale.
"""
from __future__ import annotations

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request, session
from flask_babel import Babel
from flask_login import current_user

from metamodel.model import label_text

LOCALES = {"en": "English", "zh": "中文"}
LOCALE_SHORT = {"en": "EN", "zh": "中"}
SOURCE = Path(__file__).resolve().parent / "translations"


def select_locale() -> str:
    """The logged-in user's language, else the one chosen on the login page, else the browser's."""
    if getattr(current_user, "is_authenticated", False) and current_user.locale in LOCALES:
        return current_user.locale
    if session.get("locale") in LOCALES:
        return session["locale"]
    return request.accept_languages.best_match(list(LOCALES)) or "en"


def compile_catalogues(target: Path) -> Path:
    """Compiles every ui/translations/*/LC_MESSAGES/*.po into `target` (when stale); returns target."""
    for po_path in SOURCE.glob("*/LC_MESSAGES/*.po"):
        mo_path = target / po_path.relative_to(SOURCE).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file, locale=po_path.parts[-3])
        partial = mo_path.with_suffix(f".mo.{os.getpid()}.part")
        with partial.open("wb") as mo_file:
            write_mo(mo_file, catalogue)
        partial.replace(mo_path)   # atomic: another worker never reads half a catalogue
    return target


def init_app(app: Flask) -> None:
    compiled = compile_catalogues(Path(app.config["INSTANCE_PATH"]) / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["label"] = lambda value: label_text(value, _current_locale())
    app.jinja_env.globals["LOCALES"] = LOCALES
    app.jinja_env.globals["LOCALE_SHORT"] = LOCALE_SHORT
    app.jinja_env.globals["ui_locale"] = _current_locale


def _current_locale() -> str:
    from ui.context import locale

    return locale()
