"""What roles grant, as values: a user's merged permissions, one role's rules, and how roles combine.

A user's rights are the union of their roles: the widest scope per action, a field limit only when
every role that grants the action imposes it, and every admin right any role carries.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from metamodel.model import ACTIONS, ANY_ENTITY, SCOPES, EntityGrant

NO_GRANT = EntityGrant()


@dataclass(frozen=True)
class PermissionSet:
    """What one user may do: entity -> action -> scope, fields hidden and read-only, admin rights.

    Built once when the Actor is made (at login or per request), so checks need no queries.
    """
    scopes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    hidden: Mapping[str, frozenset[str]] = field(default_factory=dict)
    read_only: Mapping[str, frozenset[str]] = field(default_factory=dict)
    rights: frozenset[str] = frozenset()

    def scope(self, entity: str, action: str) -> str:
        """Returns the scope of `action` on `entity` ('none' when no role grants it)."""
        grant = self.scopes.get(entity) or self.scopes.get(ANY_ENTITY) or {}
        return grant.get(action, "none")

    def hidden_fields(self, entity: str) -> frozenset[str]:
        return self.hidden.get(entity, frozenset())

    def locked_fields(self, entity: str) -> frozenset[str]:
        """Returns the fields this user may not write: read-only or hidden."""
        return self.read_only.get(entity, frozenset()) | self.hidden_fields(entity)


NO_PERMISSIONS = PermissionSet()


def widest(scopes: Iterable[str]) -> str:
    """Returns the widest of `scopes` (they nest: own within department within ... all)."""
    return max(scopes, key=SCOPES.index, default="none")


@dataclass(frozen=True)
class RoleRules:
    """One role's grants and field limits, as merge_roles combines them."""
    grants: Mapping[str, EntityGrant]
    limits: Mapping[str, Mapping[str, str]]     # entity -> field -> hidden | read_only

    def grant(self, entity: str) -> EntityGrant:
        return self.grants.get(entity) or self.grants.get(ANY_ENTITY) or NO_GRANT

    def fields_with(self, entity: str, *accesses: str) -> frozenset[str]:
        return frozenset(f for f, access in self.limits.get(entity, {}).items() if access in accesses)


def merge_roles(rules: Iterable[RoleRules], rights: Iterable[str]) -> PermissionSet:
    """Returns the union of roles' rules as one PermissionSet."""
    rules = list(rules)
    entities = {e for r in rules for e in (*r.grants, *r.limits)}
    scopes = {e: {a: widest(r.grant(e).scope(a) for r in rules) for a in ACTIONS} for e in entities}
    hidden: dict[str, frozenset[str]] = {}
    read_only: dict[str, frozenset[str]] = {}
    for entity in {e for r in rules for e in r.limits}:
        # A field stays hidden only if every role that lets the user read the entity hides it;
        # roles that grant nothing on the entity do not get a say (they would reveal everything).
        readers = [r for r in rules if r.grant(entity).read != "none"] or rules
        hidden[entity] = frozenset.intersection(*(r.fields_with(entity, "hidden") for r in readers))
        writers = [r for r in rules if r.grant(entity).update != "none" or r.grant(entity).create != "none"]
        locked = frozenset.intersection(*(r.fields_with(entity, "hidden", "read_only")
                                          for r in writers or rules))
        read_only[entity] = locked - hidden[entity]
    return PermissionSet(scopes, hidden, read_only, frozenset(rights))
