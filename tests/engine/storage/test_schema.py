"""Schema change: each plan step kind keeps rows and values; a failed apply changes nothing."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from engine_apps import build_app, entity_doc, label

from engine.apps import install_app, plan_app
from engine.errors import SchemaChangeRefused
from engine.storage import schema

CONTACT = entity_doc("contact", [
    {"name": "name", "type": "text", "required": True},
    {"name": "age", "type": "text"},
    {"name": "city", "type": "text", "indexed": True},
])


def contact_with(*fields, name="contact", **extra):
    return entity_doc(name, [{"name": "name", "type": "text", "required": True}, *fields], **extra)


@pytest.fixture
def contacts(runtime, install):
    install(CONTACT)
    records = runtime.records()
    records.bulk_create("contact", [{"name": "Ann", "age": "31", "city": "Beijing"},
                                    {"name": "Bob", "age": "45", "city": "Shanghai"},
                                    {"name": "Cy", "age": None, "city": None}])
    return records


def upgrade(runtime, *entities, version="1.1.0"):
    plan = plan_app(runtime, build_app(*entities, version=version))
    install_app(runtime, plan.app)
    return plan


def rows(runtime, entity, *columns):
    table = sa.table(entity, *(sa.column(c) for c in columns), sa.column("id"))
    with runtime.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(*(table.c[c] for c in columns)).order_by(table.c.id))]


def columns_of(runtime, table):
    return {c["name"] for c in sa.inspect(runtime.engine).get_columns(table)}


def test_plan_of_a_new_app_creates_each_entity(runtime):
    plan = plan_app(runtime, build_app(CONTACT))
    assert [s.sentence for s in plan.plan.steps] == ["create entity contact (3 columns)"]


def test_plan_names_a_field_by_its_label_where_the_label_says_more_than_the_name(runtime, contacts):
    plan = upgrade(runtime, contact_with({"name": "wx", "type": "text", "label": {"en": "WeChat ID"}}))
    assert "add field contact.wx “WeChat ID” (text)" in [s.sentence for s in plan.plan.steps]


def test_added_field_keeps_existing_rows(runtime, contacts):
    plan = upgrade(runtime, contact_with({"name": "age", "type": "text"}, {"name": "city", "type": "text",
                                                                             "indexed": True},
                                         {"name": "email", "type": "email"}))
    assert "add field contact.email (email)" in [s.sentence for s in plan.plan.steps]
    assert rows(runtime, "contact", "name", "age", "email") == [("Ann", "31", None), ("Bob", "45", None),
                                                                  ("Cy", None, None)]


def test_renamed_field_keeps_its_values(runtime, contacts):
    plan = upgrade(runtime, contact_with({"name": "years", "type": "text", "renamed_from": "age"},
                                         {"name": "city", "type": "text", "indexed": True}))
    assert [s.kind for s in plan.plan.steps] == ["rename_field"]
    assert rows(runtime, "contact", "years") == [("31",), ("45",), (None,)]


def test_retyped_field_converts_every_row(runtime, contacts):
    plan = upgrade(runtime, contact_with({"name": "age", "type": "integer"},
                                         {"name": "city", "type": "text", "indexed": True}))
    assert plan.plan.steps[0].risk == schema.RISK_CONVERTS
    assert rows(runtime, "contact", "age") == [(31,), (45,), (None,)]
    assert runtime.query().get("contact", 1)["age"] == 31


def test_retype_that_would_not_convert_lists_the_rows_and_is_refused(runtime, contacts):
    contacts.create("contact", {"name": "Dee", "age": "forty"})
    app = build_app(contact_with({"name": "age", "type": "integer"},
                                 {"name": "city", "type": "text", "indexed": True}), version="1.1.0")
    plan = plan_app(runtime, app)
    refused = plan.plan.refused
    assert [r.value for r in refused[0].failing_rows] == ["forty"]
    assert "1 row would not convert" in refused[0].sentence
    with pytest.raises(SchemaChangeRefused):
        install_app(runtime, app)
    assert rows(runtime, "contact", "age")[-1] == ("forty",)


def test_removed_field_is_archived_with_its_data_and_restored_when_it_returns(runtime, contacts):
    plan = upgrade(runtime, contact_with({"name": "city", "type": "text", "indexed": True}))
    assert "archive field contact.age — data kept, restorable" in [s.sentence for s in plan.plan.steps]
    assert "age" not in columns_of(runtime, "contact")
    assert "age" not in runtime.query().get("contact", 1)
    plan = upgrade(runtime, CONTACT, version="1.2.0")
    assert [s.kind for s in plan.plan.steps] == ["restore_field"]
    assert rows(runtime, "contact", "age") == [("31",), ("45",), (None,)]


def test_renamed_entity_keeps_its_rows(runtime, contacts):
    renamed = dict(CONTACT, name="person", renamed_from="contact")
    plan = upgrade(runtime, renamed)
    assert any(s.sentence == "rename entity contact to person" for s in plan.plan.steps)
    assert rows(runtime, "person", "name") == [("Ann",), ("Bob",), ("Cy",)]
    assert runtime.query().count("person") == 3


def test_removed_entity_is_archived_and_restored_when_it_returns(runtime, contacts):
    other = entity_doc("note", [{"name": "text", "type": "text"}])
    plan = upgrade(runtime, other)
    assert "archive entity contact — 3 rows kept, restorable" in [s.sentence for s in plan.plan.steps]
    assert "contact" not in sa.inspect(runtime.engine).get_table_names()
    upgrade(runtime, other, CONTACT, version="1.2.0")
    assert runtime.query().count("contact") == 3


def test_index_is_added_and_dropped_with_the_metadata(runtime, contacts):
    plan = upgrade(runtime, contact_with({"name": "age", "type": "text", "indexed": True},
                                         {"name": "city", "type": "text"}))
    assert sorted(s.kind for s in plan.plan.steps) == ["add_index", "drop_index"]
    names = {i["name"] for i in sa.inspect(runtime.engine).get_indexes("contact")}
    assert "ix_contact_age" in names and "ix_contact_city" not in names


def test_unique_index_over_duplicate_values_is_refused_listing_them(runtime, contacts):
    contacts.create("contact", {"name": "Ann 2", "city": "Beijing"})
    plan = plan_app(runtime, build_app(contact_with({"name": "age", "type": "text"},
                                                    {"name": "city", "type": "text", "unique": True}),
                                       version="1.1.0"))
    refused = plan.plan.refused
    assert len(refused) == 1 and refused[0].kind == "add_index"
    assert sorted(r.id for r in refused[0].failing_rows) == [1, 4]


def test_multi_column_unique_index_from_metadata_is_created(runtime, contacts):
    upgrade(runtime, dict(CONTACT, indexes=[{"name": "name_city", "fields": ["name", "city"], "unique": True}]))
    names = {i["name"]: i for i in sa.inspect(runtime.engine).get_indexes("contact")}
    assert names["uq_contact__name_city"]["unique"]


def test_failure_in_the_middle_of_apply_leaves_schema_and_data_as_before(runtime, contacts, monkeypatch):
    before_columns = columns_of(runtime, "contact")
    before_rows = rows(runtime, "contact", "name", "age", "city")
    app = build_app(contact_with({"name": "years", "type": "integer", "renamed_from": "age"},
                                 {"name": "email", "type": "email"}), version="1.1.0")
    original = schema._Applier.step_add_field

    def failing_add_field(self, step):
        original(self, step)
        raise RuntimeError("disk full")

    monkeypatch.setattr(schema._Applier, "step_add_field", failing_add_field)
    with pytest.raises(RuntimeError, match="disk full"):
        install_app(runtime, app)
    assert columns_of(runtime, "contact") == before_columns
    assert rows(runtime, "contact", "name", "age", "city") == before_rows
    assert runtime.registry().apps["test_app"].version == "1.0.0"


def test_lookup_children_survive_a_parent_table_copy_on_sqlite(runtime, install):
    parent = entity_doc("account", [{"name": "name", "type": "text"}, {"name": "age", "type": "text"}])
    child = entity_doc("note", [{"name": "account", "type": "master_detail", "target": "account"}])
    install(parent, child)
    records = runtime.records()
    account = records.create("account", {"name": "Acme", "age": "3"})
    records.create("note", {"account": account["id"]})
    upgrade(runtime, entity_doc("account", [{"name": "name", "type": "text"},
                                            {"name": "age", "type": "integer"}]), child)
    assert runtime.query().count("note") == 1


def test_picklist_value_removed_while_rows_hold_it_is_refused(runtime, install):
    values = [{"value": "a", "label": label("A")}, {"value": "b", "label": label("B")}]
    install(entity_doc("thing", [{"name": "kind", "type": "picklist", "values": values}]))
    runtime.records().create("thing", {"kind": "b"})
    plan = plan_app(runtime, build_app(entity_doc("thing", [{"name": "kind", "type": "picklist",
                                                             "values": values[:1]}]), version="1.1.0"))
    assert plan.plan.refused[0].failing_rows[0].value == "b"


def test_downgrade_is_refused(runtime, install):
    install(CONTACT, version="2.0.0")
    with pytest.raises(Exception, match="older than the installed 2.0.0"):
        plan_app(runtime, build_app(CONTACT, version="1.0.0"))
