"""A detail of a detail follows its master's master: access travels the whole master-detail chain."""
from __future__ import annotations

import copy

import pytest
from engine_apps import ACCOUNT, QUOTE, QUOTE_LINE, app_documents, entity_doc, label

from engine.apps import install_app
from engine.errors import NotFound, PermissionDenied
from engine.security.users import actor_by_name, create_user
from engine.storage.db import write_transaction
from metamodel import app_from_documents

LINE_NOTE = entity_doc("line_note", [
    {"name": "line", "type": "master_detail", "target": "quote_line"},
    {"name": "text", "type": "text", "required": True},
])
ROLES = [{"name": "rep", "label": label("Rep"), "permissions": {"*": "own"}}]


@pytest.fixture
def chain(runtime):
    """Two reps; a quote of each with a line, and on each line a note owned by the other rep."""
    docs = app_documents(ACCOUNT, QUOTE, QUOTE_LINE, LINE_NOTE)
    docs["app.json"]["roles"] = copy.deepcopy(ROLES)
    install_app(runtime, app_from_documents(docs))
    with write_transaction(runtime.engine) as conn:
        ann, bob = (create_user(conn, name, roles=["rep"], password="correct horse battery").id
                    for name in ("ann", "bob"))
    records = runtime.records()
    notes = {}
    for owner, other in ((ann, bob), (bob, ann)):
        quote = records.create("quote", {"title": "Q", "owner_id": owner})["id"]
        line = records.create("quote_line", {"quote": quote, "product": "Seat", "owner_id": owner})["id"]
        notes[owner] = records.create("line_note", {"line": line, "text": "call first", "owner_id": other})["id"]
    return runtime, ann, bob, notes


def _actor(runtime, name: str):
    with runtime.engine.connect() as conn:
        return actor_by_name(conn, name)


def test_a_note_on_a_line_of_my_quote_is_mine_to_read_and_edit_whoever_wrote_it(chain):
    runtime, ann, _bob, notes = chain
    me = _actor(runtime, "ann")
    assert runtime.query(me).get("line_note", notes[ann])["text"] == "call first"
    assert [r["id"] for r in runtime.query(me).list("line_note").rows] == [notes[ann]]
    assert runtime.records(me).update("line_note", notes[ann], {"text": "called"})["text"] == "called"


def test_my_note_on_a_line_of_a_quote_i_cannot_read_is_out_of_my_reach(chain):
    runtime, _ann, bob, notes = chain
    me = _actor(runtime, "ann")
    with pytest.raises(NotFound):
        runtime.query(me).get("line_note", notes[bob])
    with pytest.raises((NotFound, PermissionDenied)):
        runtime.records(me).update("line_note", notes[bob], {"text": "mine anyway"})
