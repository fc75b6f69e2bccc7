"""A small app and organisation for the approval tests: deals approved by managers and finance."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine_apps import app_documents, entity_doc, label

from engine.apps import install_app
from engine.security.users import actor_for, create_user
from engine.storage.db import write_transaction
from metamodel import app_from_documents

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)   # a Tuesday

DEAL = entity_doc("deal", [
    {"name": "name", "type": "text", "required": True},
    {"name": "amount", "type": "number"},
    {"name": "discount", "type": "percent"},
    {"name": "status", "type": "picklist", "default": "draft",
     "values": [{"value": v, "label": label(v)} for v in ("draft", "pending", "approved", "rejected")]},
    {"name": "terms", "type": "text"},
    {"name": "reviewer", "type": "user"},
])
ROLES = [
    {"name": "rep", "label": label("Rep"), "permissions": {"deal": "own"}},
    {"name": "manager", "label": label("Manager"), "permissions": {"deal": "all"}},
    {"name": "finance", "label": label("Finance"), "permissions": {}},
]


def approval(steps: list[dict[str, Any]], name: str = "deal_approval", **body: Any) -> dict[str, Any]:
    """An approval flow document on deal with `steps`."""
    return {"name": name, "label": label(name), "kind": "approval", "entity": "deal", "version": 1,
            "steps": steps, **body}


def step(name: str, approvers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "approvers": approvers, **extra}


def install(runtime, *flows: dict[str, Any], version: str = "1.0.0"):
    """Installs (or upgrades to) the deal app with `flows`; returns the registry."""
    docs = app_documents(DEAL, version=version)
    docs["app.json"]["roles"] = copy.deepcopy(ROLES)
    for flow in flows:
        docs[f"flows/{flow['name']}.json"] = copy.deepcopy(flow)
    install_app(runtime, app_from_documents(docs))
    return runtime.registry()


@dataclass(frozen=True)
class Org:
    """rep reports to boss, boss to chief; fin and fin2 are finance; admin administers."""
    chief: int
    boss: int
    rep: int
    fin: int
    fin2: int
    admin: int


def organisation(runtime) -> Org:
    with write_transaction(runtime.engine) as conn:
        def user(name: str, **options: Any) -> int:
            return create_user(conn, name, display_name=name.title(), **options).id
        chief = user("chief", roles=["manager"])
        boss = user("boss", roles=["manager"], manager_id=chief)
        rep = user("rep", roles=["rep"], manager_id=boss)
        return Org(chief, boss, rep, user("fin", roles=["finance"]), user("fin2", roles=["finance"]),
                   user("admin", is_admin=True))


def actor(runtime, user_id: int):
    with runtime.engine.connect() as conn:
        return actor_for(conn, user_id)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def deal(runtime, owner: int, **values: Any) -> int:
    """Creates a deal owned by `owner` as the rep would (through the write path); returns its id."""
    return runtime.records(actor(runtime, owner)).create("deal", {"name": "Acme", "amount": 100, **values})["id"]


def prepare(runtime, *flows: dict[str, Any]) -> Org:
    """Installs the deal app with `flows`, gives the runtime a controllable clock at T0 and
    creates the organisation."""
    runtime.clock = Clock()
    install(runtime, *flows)
    return organisation(runtime)
