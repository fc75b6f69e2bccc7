"""Who a service call acts for: a user with their merged permissions and departments, or the system.

Everything below the services takes an Actor; nothing here reads the database.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.security.grants import NO_PERMISSIONS, PermissionSet


@dataclass(frozen=True)
class Actor:
    """The user a service call acts for. `id` is None for the system itself (CLI, flows, demo).

    The permissions and the department sets are computed when the Actor is made (users.actor_for),
    so a request's checks cost no queries; `can_write` is False for a read-only API token.
    """
    id: int | None
    username: str
    is_admin: bool = False
    roles: frozenset[str] = field(default_factory=frozenset)
    department_id: int | None = None
    locale: str = "en"
    permissions: PermissionSet = field(default=NO_PERMISSIONS, compare=False)
    department_ids: frozenset[int] = frozenset()           # own department (empty without one)
    subtree_ids: frozenset[int] = frozenset()              # own department and every one below it
    department_members: frozenset[int] = frozenset()       # user ids in department_ids
    subtree_members: frozenset[int] = frozenset()          # user ids in subtree_ids
    timezone: str = "UTC"
    can_write: bool = True

    def has_right(self, right: str) -> bool:
        """Whether the actor holds admin right `right` (metadata, users, flows, import, export, api, audit)."""
        return self.is_admin or right in self.permissions.rights


SYSTEM = Actor(None, "system", is_admin=True)
