"""Stale writes merged field by field against what others saved since the writer's version.

A writer's change stands unless someone else changed the same field to another value since; a
field the writer sent back as it was takes the other writer's value. Only the rest is a conflict.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.security.audit import AuditEntry
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.model import EntityDef

UNREADABLE = object()   # input a field cannot hold: equal to nothing, left for validation to report


@dataclass(frozen=True)
class MergedWrite:
    """How a write made from an older version meets what was saved since.

    `values`: what the write still asks for (the writer's own changes, conflicts among them);
    `changed_by_others`: the fields saved by someone else since the version; `conflicts`: the
    fields both changed, to different values, which the writer has to decide.
    """
    values: dict[str, Any]
    changed_by_others: list[str]
    conflicts: list[str]


def values_at_version(history: Sequence[AuditEntry], version: int, current_version: int) -> dict[str, Any] | None:
    """Returns field -> the value (JSON, as audited) it had at `version`, for every field changed
    since; None when the history does not account for every save since `version`.

    `history` is a record's audit entries, newest first. A field's value at `version` is the old
    value of the first change after it, so the oldest entry is applied last.
    """
    if version > current_version:
        return None   # a version never saved: there is nothing to merge from
    before: dict[str, Any] = {}
    saved_versions: set[int] = set()
    for entry in history:
        saved = entry.detail.get("version")
        if saved is None:
            continue   # deletions audited before they recorded a version: the check below sees the gap
        if saved <= version:
            break
        saved_versions.add(saved)
        for name, (old, _new) in entry.changes.items():
            before[name] = old
    if saved_versions != set(range(version + 1, current_version + 1)):
        return None
    return before


def stored_form(entity: EntityDef, name: str, raw: Any) -> Any:
    """Returns the column value `raw` (form, API or audited JSON input) is stored as, so two inputs
    compare as the field compares them ("12" and 12.0 are one number); UNREADABLE if it is invalid."""
    if name == "owner_id":
        try:
            return int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            return UNREADABLE
    f = entity.field(name)
    kind = field_type(f.type)
    try:
        value = kind.coerce(f, raw)
    except FieldValueError:
        return UNREADABLE
    return kind.to_db(f, value) if value is not None else None


def merge_stale_write(entity: EntityDef, values: Mapping[str, Any], current: Mapping[str, Any],
                      before: Mapping[str, Any] | None) -> MergedWrite:
    """Splits the values of a write made from an older version.

    `current` holds the stored (column) values of the record now; `before` the audited values at
    the writer's version of the fields changed since (`values_at_version`). A field nobody else
    changed is written; one changed by others is dropped when the writer sent its old value (theirs
    stands) or the value it now has, and is a conflict otherwise. Without `before` (history
    incomplete) every value that differs from the current one is a conflict: asking is safe,
    guessing could undo someone's change.
    """
    kept: dict[str, Any] = {}
    conflicts: list[str] = []
    for name, raw in values.items():
        if not _comparable(entity, name) or (before is not None and name not in before):
            kept[name] = raw
            continue
        posted = stored_form(entity, name, raw)
        if posted is UNREADABLE:
            kept[name] = raw   # the write path reports why the value is refused
        elif posted == current.get(name):
            continue
        elif before is not None and posted == stored_form(entity, name, before[name]):
            continue
        else:
            kept[name] = raw
            conflicts.append(name)
    others = {name for name in before if _comparable(entity, name)} if before is not None else set()
    return MergedWrite(kept, sorted(others | set(conflicts)), sorted(conflicts))


def _comparable(entity: EntityDef, name: str) -> bool:
    """A field whose stored value a write can set: owner_id or a stored field of the entity."""
    if name == "owner_id":
        return True
    return entity.has_field(name) and field_type(entity.field(name).type).stored
