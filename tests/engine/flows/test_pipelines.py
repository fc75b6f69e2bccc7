"""Pipelines in the write path: gates, required fields, direction, probability, choice, history."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from engine_apps import app_documents, entity_doc, label

from engine.errors import ValidationError
from engine.flows.pipelines import stage_history
from engine.security.actors import SYSTEM

STAGES = [{"value": v, "label": label(v.title())} for v in ("open", "quoting", "won", "lost")]
DEAL = entity_doc("deal", [
    {"name": "name", "type": "text"},
    {"name": "stage", "type": "picklist", "values": STAGES, "default": "open"},
    {"name": "line", "type": "picklist", "values": [{"value": "goods", "label": label("Goods")},
                                                    {"value": "services", "label": label("Services")}]},
    {"name": "amount", "type": "currency"},
    {"name": "probability", "type": "percent", "precision": 0, "min": 0, "max": 100},
    {"name": "lost_reason", "type": "text"},
])
MAIN = {
    "name": "main", "label": label("Main"), "kind": "pipeline", "entity": "deal", "version": 1,
    "stage_field": "stage", "priority": 100,
    "stages": [
        {"value": "open", "probability": 10},
        {"value": "quoting", "probability": 60,
         "gate": {"condition": "amount > 0", "message": {"en": "Enter the amount before quoting",
                                                          "zh": "报价前请填写金额"}}},
        {"value": "won", "probability": 100, "allow_backward": False},
        {"value": "lost", "probability": 0, "required_fields": ["lost_reason"]},
    ],
}
SERVICES = {
    "name": "services", "label": label("Services"), "kind": "pipeline", "entity": "deal", "version": 1,
    "stage_field": "stage", "priority": 10, "applies_if": 'ISPICKVAL(line, "services")', "allow_backward": False,
    "stages": [{"value": "open", "probability": 25}, {"value": "quoting", "probability": 50},
               {"value": "won", "probability": 100}, {"value": "lost", "probability": 0}],
}


@pytest.fixture
def deals(runtime):
    from engine.apps import install_app
    from metamodel import app_from_documents

    documents = app_documents(DEAL)
    documents.update({f"flows/{flow['name']}.json": flow for flow in (MAIN, SERVICES)})
    install_app(runtime, app_from_documents(documents))
    return runtime.records()


def refusal(call, *args) -> dict:
    with pytest.raises(ValidationError) as caught:
        call(*args)
    return caught.value.by_field()


def test_gate_refuses_entering_its_stage_with_its_message(deals):
    deal = deals.create("deal", {"name": "A"})
    assert refusal(deals.update, "deal", deal["id"], {"stage": "quoting"}) == {
        "stage": ["Enter the amount before quoting"]}


def test_gate_message_is_in_the_actors_language(runtime, deals):
    deal = deals.create("deal", {"name": "A"})
    chinese = runtime.records(dataclasses.replace(SYSTEM, locale="zh"))
    assert refusal(chinese.update, "deal", deal["id"], {"stage": "quoting"}) == {"stage": ["报价前请填写金额"]}


def test_gate_refuses_creating_a_record_in_its_stage(runtime, deals):
    assert refusal(deals.create, "deal", {"name": "A", "stage": "quoting"}) == {
        "stage": ["Enter the amount before quoting"]}
    assert runtime.query().count("deal") == 0


def test_gate_passes_when_it_holds_on_the_record_as_saved(deals):
    deal = deals.create("deal", {"name": "A"})
    assert deals.update("deal", deal["id"], {"stage": "quoting", "amount": "500"})["stage"] == "quoting"


def test_fields_required_on_a_stage_are_listed_beside_each_field(deals):
    deal = deals.create("deal", {"name": "A"})
    assert refusal(deals.update, "deal", deal["id"], {"stage": "lost"}) == {
        "lost_reason": ["is required in stage Lost"]}


def test_moving_back_from_a_stage_that_forbids_it_is_refused_naming_both(deals):
    deal = deals.create("deal", {"name": "A", "stage": "won", "amount": "9"})
    assert refusal(deals.update, "deal", deal["id"], {"stage": "open"}) == {
        "stage": ["cannot move back from Won to Open"]}


def test_moving_back_is_allowed_where_the_pipeline_allows_it(deals):
    deal = deals.create("deal", {"name": "A", "stage": "quoting", "amount": "9"})
    assert deals.update("deal", deal["id"], {"stage": "open"})["stage"] == "open"


def test_moving_back_is_refused_where_the_pipeline_forbids_it(deals):
    deal = deals.create("deal", {"name": "A", "line": "services", "stage": "quoting"})
    assert refusal(deals.update, "deal", deal["id"], {"stage": "open"}) == {
        "stage": ["cannot move back from Quoting to Open"]}


def test_entering_a_stage_writes_its_probability(deals):
    deal = deals.create("deal", {"name": "A", "probability": "99"})
    assert deal["probability"] == Decimal(10)
    moved = deals.update("deal", deal["id"], {"stage": "quoting", "amount": "5", "probability": "1"})
    assert moved["probability"] == Decimal(60)


def test_pipeline_is_chosen_by_applies_if_then_lowest_priority(deals):
    services = deals.create("deal", {"name": "S", "line": "services"})
    goods = deals.create("deal", {"name": "G", "line": "goods"})
    assert (services["probability"], goods["probability"]) == (Decimal(25), Decimal(10))
    # the services pipeline has no gate on quoting; the main one does
    assert deals.update("deal", services["id"], {"stage": "quoting"})["probability"] == Decimal(50)
    assert "stage" in refusal(deals.update, "deal", goods["id"], {"stage": "quoting"})


def test_stage_history_lists_the_stages_entered_in_order_with_who_and_when(runtime, deals):
    from engine.security.users import actor_for, create_user
    from engine.storage.db import write_transaction

    with write_transaction(runtime.engine) as conn:
        ids = [create_user(conn, name, is_admin=True).id for name in ("alice", "bob")]
        alice, bob = (actor_for(conn, i) for i in ids)
    start = dt.datetime(2030, 1, 1, 9, tzinfo=dt.UTC)
    now = [start]   # a controllable clock: each save reads it as often as it likes
    runtime.clock = lambda: now[0]
    deal = runtime.records(alice).create("deal", {"name": "A"})
    now[0] = start + dt.timedelta(days=2)
    runtime.records(bob).update("deal", deal["id"], {"stage": "quoting", "amount": "7"})
    now[0] = start + dt.timedelta(days=3)
    runtime.records(alice).update("deal", deal["id"], {"name": "A2"})
    with runtime.engine.connect() as conn:
        record = runtime.query().get("deal", deal["id"])
        history = stage_history(conn, runtime.registry(), runtime.registry().entity("deal"), record,
                                start + dt.timedelta(days=5))
    assert [(e.stage, e.actor_id) for e in history.entries] == [("open", alice.id), ("quoting", bob.id)]
    assert history.entries[1].at.replace(tzinfo=dt.UTC) == start + dt.timedelta(days=2)
    assert (history.current, history.time_in_current) == ("quoting", dt.timedelta(days=3))
