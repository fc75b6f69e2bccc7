"""A small organisation for the security tests, written straight into the fw_ tables (fast: no hashing).

Head office > Sales > North, East; Head office > Finance, Service, Marketing.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from engine.storage.db import fw_department, fw_user, fw_user_role, utcnow

DEPARTMENTS = (("hq", None), ("sales", "hq"), ("north", "sales"), ("east", "sales"),
               ("finance", "hq"), ("service", "hq"), ("marketing", "hq"))

# username -> (department, roles)
PEOPLE = {
    "rep_n1": ("north", ("sales_rep",)),
    "rep_n2": ("north", ("sales_rep",)),
    "mgr_n": ("north", ("sales_manager",)),
    "rep_e1": ("east", ("sales_rep",)),
    "director": ("sales", ("sales_manager",)),
    "fin": ("finance", ("finance",)),
    "svc": ("service", ("service_agent",)),
    "mkt": ("marketing", ("marketing",)),
    "boss": ("hq", ("executive",)),
    "it": ("hq", ("admin",)),
    "nobody": (None, ()),
}


@dataclass(frozen=True)
class Org:
    users: dict[str, int]            # username -> id
    departments: dict[str, int]      # department -> id
    user_department: dict[int, int | None]

    def subtree(self, department: str) -> set[int]:
        parents = dict(DEPARTMENTS)
        found = {department}
        changed = True
        while changed:
            below = {d for d, p in parents.items() if p in found} - found
            changed = bool(below)
            found |= below
        return {self.departments[d] for d in found}


def build_org(conn: sa.Connection, people: dict[str, tuple[str | None, tuple[str, ...]]] = PEOPLE) -> Org:
    departments: dict[str, int] = {}
    for name, parent in DEPARTMENTS:
        departments[name] = conn.execute(sa.insert(fw_department).values(
            name=name, parent_id=departments.get(parent) if parent else None)).inserted_primary_key[0]
    users: dict[str, int] = {}
    for username, (department, roles) in people.items():
        users[username] = conn.execute(sa.insert(fw_user).values(
            username=username, display_name=username, password_hash=None, is_admin=False, active=True,
            department_id=departments.get(department) if department else None, locale="en", timezone="UTC",
            failed_logins=0, created_at=utcnow())).inserted_primary_key[0]
        for role in roles:
            conn.execute(sa.insert(fw_user_role).values(user_id=users[username], role=role))
    user_department = {uid: departments.get(people[name][0]) if people[name][0] else None
                       for name, uid in users.items()}
    return Org(users, departments, user_department)


def quote_of(records, owner_id: int, name: str = "Deal") -> int:
    """A quote owned by `owner_id`, on an opportunity and account of the same owner."""
    account = records.create("account", {"name": f"{name} account", "owner_id": owner_id})["id"]
    opportunity = records.create("opportunity", {"name": name, "account": account, "close_date": "2030-01-01",
                                                 "probability": 10, "owner_id": owner_id})["id"]
    return records.create("quote", {"name": name, "opportunity": opportunity, "owner_id": owner_id})["id"]


def line_of(records, quote_id: int, owner_id: int, unit_price: str = "10") -> int:
    """A quote line on `quote_id` owned by `owner_id` (who need not own the quote)."""
    return records.create("quote_line", {"quote": quote_id, "name": "Seat", "quantity": "1",
                                         "unit_price": unit_price, "owner_id": owner_id})["id"]


def task_for(records, owner_id: int, assignee_id: int | None, subject: str = "Call back") -> int:
    """A task owned by `owner_id` (e.g. a manager) and assigned to `assignee_id`."""
    return records.create("task", {"subject": subject, "due_at": "2030-01-10T09:00:00+00:00",
                                   "owner_id": owner_id, "assignee": assignee_id})["id"]
