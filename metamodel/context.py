"""What the semantic checks look at: the app as far as it could be built, and where each part came from.

Parts whose documents failed the schema are remembered by name, so references to them are not
reported a second time as "unknown".
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from metamodel.fieldtypes import FIELD_TYPES
from metamodel.issues import did_you_mean
from metamodel.model import SYSTEM_COLUMNS, AppDef, Document, EntityDef, FieldDef


@dataclass(frozen=True)
class EntitySource:
    """A built entity, its file, and each built field's index in the file's `fields` list."""
    file: str
    entity: EntityDef
    field_positions: tuple[int, ...]

    def field_path(self, position: int) -> str:
        """Returns the JSON pointer of the entity's `position`-th built field."""
        return f"/fields/{self.field_positions[position]}"


@dataclass(frozen=True)
class DocumentSource:
    """A built flow, report or dashboard and its file."""
    file: str
    kind: str
    document: Document


@dataclass(frozen=True)
class CheckContext:
    app: AppDef
    app_ok: bool
    entities: tuple[EntitySource, ...]
    documents: tuple[DocumentSource, ...] = ()
    seed_files: Mapping[str, str] = field(default_factory=dict)   # file -> entity name
    broken_entities: frozenset[str] = frozenset()
    broken_fields: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def source(self, entity: str) -> EntitySource | None:
        return next((s for s in self.entities if s.entity.name == entity), None)

    def file_of(self, entity: str) -> str:
        source = self.source(entity)
        return source.file if source else f"entities/{entity}.json"

    def entity_known(self, name: str) -> bool:
        """True when the entity exists, or exists but failed the schema (already reported)."""
        return name in self.app.entities or name in self.broken_entities

    def unknown_entity(self, name: str) -> tuple[str, str | None] | None:
        """Returns (message, suggestion) when no entity is called `name`, else None."""
        if self.entity_known(name):
            return None
        return (f"there is no entity {name!r}",
                did_you_mean(name, [*self.app.entities, *self.broken_entities]))

    def unknown_field(self, entity: EntityDef, name: str, *, system: bool = False,
                      ) -> tuple[str, str | None] | None:
        """Returns (message, suggestion) when `entity` has no field `name`, else None.

        With `system`, system columns (created_at, owner_id...) count as fields.
        """
        if entity.has_field(name) or name in self.broken_fields.get(entity.name, ()):
            return None
        if system and name in SYSTEM_COLUMNS:
            return None
        choices = [f.name for f in entity.fields] + (list(SYSTEM_COLUMNS) if system else [])
        return f"entity {entity.name!r} has no field {name!r}", did_you_mean(name, choices)

    def resolve_path(self, entity: EntityDef, path: str, *, system: bool = False,
                     ) -> tuple[FieldDef | None, tuple[str, str | None] | None]:
        """Follows a dotted path through lookups; returns (the last field, or a problem).

        The field is None when it cannot be known (a system column, a broken document).
        """
        head, _, rest = path.partition(".")
        problem = self.unknown_field(entity, head, system=system)
        if problem or not entity.has_field(head):
            return None, problem
        found = entity.field(head)
        if not rest:
            return found, None
        target = FIELD_TYPES[found.type].target_entity(found)
        if target is None:
            return None, (f"{entity.name}.{head} is not a lookup, so {path!r} cannot follow it", None)
        if target not in self.app.entities:
            return None, None
        return self.resolve_path(self.app.entities[target], rest, system=system)

    def fields_of(self, source: EntitySource) -> Iterator[tuple[str, FieldDef]]:
        """Yields (JSON pointer, field) for each built field of an entity."""
        for position, f in enumerate(source.entity.fields):
            yield source.field_path(position), f
