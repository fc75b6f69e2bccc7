"""Audited values (old → new) as people read them: lookups as record titles, users by name,
choices by label, times in the user's zone. Shared by a record's history and the audit log."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _

from engine.data.views import user_names
from metamodel.fieldtypes import field_type
from metamodel.model import EntityDef, FieldDef
from ui.context import query, runtime
from ui.records.localtime import local_text


class ChangeText:
    """Turns stored values of an entity's fields into text; `load` fetches every referenced title and
    user name of a batch of changes at once."""

    def __init__(self) -> None:
        self.titles: dict[str, dict[int, str]] = {}
        self.users: dict[int, str] = {}

    def load(self, pairs: Iterable[tuple[EntityDef | None, dict[str, Any]]]) -> ChangeText:
        """`pairs`: (entity, {field name: (old, new)}) for every audited change to show."""
        wanted: dict[str, set[int]] = {}
        user_ids: set[int] = set()
        for entity, changes in pairs:
            for name, values in changes.items():
                ids = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
                if name in ("owner_id", "created_by", "updated_by"):
                    user_ids.update(ids)
                    continue
                if entity is None or not entity.has_field(name):
                    continue
                f = entity.field(name)
                target = field_type(f.type).target_entity(f)
                if f.type == "user":
                    user_ids.update(ids)
                elif target:
                    wanted.setdefault(target, set()).update(ids)
        for target, ids in wanted.items():
            try:
                self.titles[target] = query().titles(target, sorted(ids))
            except Exception:  # noqa: BLE001 - an unreadable target shows ids, never fails the page
                self.titles[target] = {}
        if user_ids:
            with runtime().engine.connect() as conn:
                self.users = user_names(conn, sorted(user_ids))
        return self

    def user(self, value: Any) -> str:
        if value is None or value == "":
            return ""
        return self.users.get(value, f"#{value}") if isinstance(value, int) else str(value)

    def value(self, f: FieldDef, value: Any, lang: str) -> str:
        if value is None or value == "" or value == []:
            return ""
        kind = field_type(f.type)
        target = kind.target_entity(f)
        if f.type == "user":
            return self.user(value)
        if target:
            return self.titles.get(target, {}).get(value) or _("Record #%(id)s (not visible to you)", id=value)
        try:
            typed = kind.coerce(f, value)
            if isinstance(typed, dt.datetime):
                return local_text(typed)
            return kind.display(f, typed, lang)
        except (ValueError, TypeError, KeyError, AttributeError):
            return str(value)
