"""Record-triggered automations: the cost they add to a save through the write path.

`idle`: an update of a record whose entity has 20 enabled automations whose conditions are false,
against the same update of an identical entity with none. `busy`: 5 automations whose conditions
hold, each setting one field through the write path, against the same update with none.
`approval_decision`: one approve decision that moves a two-step approval to its second step (lock,
task check, log, next step's tasks and notification), against a plain update of a record.
Run: python bench/flows.py [--rows 2000] [--database URL]
"""
from __future__ import annotations

import copy
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import compare, options, scratch_database  # noqa: E402

from engine.apps import install_app  # noqa: E402
from engine.flows import approvals  # noqa: E402
from engine.runtime import Runtime  # noqa: E402
from engine.security.actors import SYSTEM  # noqa: E402
from engine.security.users import actor_for, create_user  # noqa: E402
from engine.storage.db import write_transaction  # noqa: E402
from metamodel import app_from_documents  # noqa: E402

DEAL = {
    "name": "deal", "label": {"en": "Deal"}, "plural_label": {"en": "Deals"},
    "fields": [
        {"name": "name", "type": "text", "label": {"en": "Name"}, "required": True},
        {"name": "amount", "type": "currency", "label": {"en": "Amount"}},
        {"name": "score", "type": "integer", "label": {"en": "Score"}},
        *({"name": f"note{n}", "type": "text", "label": {"en": f"Note {n}"}} for n in range(5)),
    ],
}


def entity(name: str) -> dict:
    doc = copy.deepcopy(DEAL)
    doc.update(name=name, label={"en": name}, plural_label={"en": name + "s"})
    return doc


def automation(name: str, entity_name: str, condition: str, actions: list[dict], trigger: dict) -> dict:
    return {"name": name, "label": {"en": name}, "kind": "automation", "entity": entity_name, "version": 1,
            "trigger": trigger, "condition": condition, "actions": actions}


def documents() -> dict:
    docs = {"app.json": {"name": "bench", "version": "1.0.0", "label": "Bench"}}
    for name in ("deal", "idle_deal", "busy_deal", "approval_deal"):
        docs[f"entities/{name}.json"] = entity(name)
    docs["flows/two_steps.json"] = {
        "name": "two_steps", "label": {"en": "Two steps"}, "kind": "approval", "entity": "approval_deal",
        "version": 1, "steps": [{"name": "first", "approvers": [{"user": "first"}]},
                                {"name": "second", "approvers": [{"user": "second"}]}]}
    for n in range(20):   # never true: score stays below 1000
        docs[f"flows/idle_{n}.json"] = automation(
            f"idle_{n}", "idle_deal", f"score > {1000 + n}",
            [{"type": "update_record", "set": {"note0": '"never"'}}], {"on": "updated"})
    for n in range(5):    # always true; the fields they set do not retrigger them
        docs[f"flows/busy_{n}.json"] = automation(
            f"busy_{n}", "busy_deal", "score >= 0",
            [{"type": "update_record", "set": {f"note{n}": '"seen " & name'}}],
            {"on": "field_changed", "fields": ["score"]})
    return docs


def main() -> None:
    args = options(__doc__.splitlines()[0], 2000)
    with scratch_database(args.database) as url:
        run(url, args.rows, args.repeat)


def run(url: str, rows: int, repeat: int) -> None:
    rt = Runtime(url)
    rt.migrate()
    install_app(rt, app_from_documents(documents()))
    registry = rt.registry()
    records = rt.records(registry=registry)
    rng = random.Random(7)
    for name in ("deal", "idle_deal", "busy_deal"):
        for start in range(0, rows, 5000):
            records.bulk_create(name, [{"name": f"Deal {n}", "amount": rng.randrange(100, 10**6), "score": 0}
                                       for n in range(start, min(rows, start + 5000))])
    ids = [rng.randrange(1, rows + 1) for _ in range(repeat + 10)]

    def save(entity_name: str):
        return lambda i: records.update(entity_name, ids[i], {"score": i % 900 + 1})

    compare("update_20_false_automations", save("idle_deal"), save("deal"), repeat)
    compare("update_5_field_update_actions", save("busy_deal"), save("deal"), repeat)
    measure_approval_decision(rt, records, ids, repeat)
    rt.dispose()


def measure_approval_decision(rt: Runtime, records, ids: list[int], repeat: int) -> None:
    """Times approving the first step of one pending approval each time, against a plain update."""
    with write_transaction(rt.engine) as conn:
        first = create_user(conn, "first").id
        create_user(conn, "second")
        approver = actor_for(conn, first)
    submitter = SYSTEM
    pending = []
    for n in range(repeat + 10):
        record = records.create("approval_deal", {"name": f"Deal {n}", "score": 0})
        pending.append(approvals.submit(rt, submitter, "approval_deal", record["id"]).id)
    compare("approval_decision", lambda i: approvals.approve(rt, approver, pending[i]),
            lambda i: records.update("deal", ids[i], {"score": i % 900 + 1}), repeat)



if __name__ == "__main__":
    main()
