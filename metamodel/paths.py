"""Field paths such as "account.parent.annual_revenue", walked hop by hop through the lookups.

Permission checks need every field a path reads, not only its last one: each hop is a field of
the entity the previous lookup points at.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from metamodel.fieldtypes import FIELD_TYPES
from metamodel.model import EntityDef


@dataclass(frozen=True)
class Hop:
    """One field a path reads: the entity it belongs to, its name, and the path up to it."""
    entity: EntityDef
    field: str
    path: str


def path_hops(entities: Mapping[str, EntityDef], entity: EntityDef, dotted: str) -> Iterator[Hop]:
    """Yields every hop of `dotted` read from `entity`, in order.

    The walk stops after a field that does not lead to another entity of `entities` (a user field,
    a system field such as owner, or a name that is not a field): what follows is not an entity's.
    """
    parts = dotted.split(".")
    for i, name in enumerate(parts):
        yield Hop(entity, name, ".".join(parts[:i + 1]))
        if not entity.has_field(name):
            return
        f = entity.field(name)
        target = FIELD_TYPES[f.type].target_entity(f)
        if target is None or target not in entities:
            return
        entity = entities[target]
