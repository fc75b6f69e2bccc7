"""The write path: coercion, validation, defaults, locking, audit, recycle bin, bulk writes."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from engine_apps import ACCOUNT, QUOTE, QUOTE_LINE, entity_doc, label

from engine.errors import ConflictError, NotFound, ValidationError
from engine.security.audit import record_history


@pytest.fixture
def crm(install):
    return install(ACCOUNT, QUOTE, QUOTE_LINE)


def test_create_returns_the_stored_record_with_system_columns(runtime, crm):
    record = runtime.records().create("account", {"name": "Acme", "employees": "12"})
    assert record["name"] == "Acme"
    assert record["employees"] == 12
    assert record["version"] == 1
    assert record["created_at"].tzinfo is not None


def test_literal_default_fills_a_missing_value(runtime, crm):
    record = runtime.records().create("account", {"name": "Acme"})
    assert record["region"] == "north"


def test_bad_values_are_reported_per_field_and_nothing_is_written(runtime, crm):
    with pytest.raises(ValidationError) as caught:
        runtime.records().create("account", {"name": "", "employees": "many", "grade": "gold",
                                             "email": "not-an-address"})
    errors = caught.value.by_field()
    assert set(errors) == {"name", "employees", "grade", "email"}
    assert runtime.query().count("account") == 0


def test_a_control_character_is_reported_beside_its_field_and_nothing_is_written(runtime, crm):
    with pytest.raises(ValidationError) as caught:
        runtime.records().create("account", {"name": "Acme\x00"})
    assert caught.value.by_field() == {"name": ["contains a control character (U+0000)"]}
    assert runtime.query().count("account") == 0


def test_unknown_field_is_refused_by_name(runtime, crm):
    with pytest.raises(ValidationError) as caught:
        runtime.records().create("account", {"name": "Acme", "colour": "red"})
    assert "colour" in caught.value.by_field()


def test_value_above_maximum_length_is_refused(runtime, crm):
    with pytest.raises(ValidationError) as caught:
        runtime.records().create("account", {"name": "x" * 101})
    assert "name" in caught.value.by_field()


def test_taken_unique_value_is_refused_naming_the_holder(runtime, crm):
    records = runtime.records()
    first = records.create("account", {"name": "Acme", "code": "A1"})
    with pytest.raises(ValidationError) as caught:
        records.create("account", {"name": "Other", "code": "A1"})
    assert str(first["id"]) in caught.value.by_field()["code"][0]


def test_unique_value_of_a_deleted_record_can_be_reused(runtime, crm):
    records = runtime.records()
    first = records.create("account", {"name": "Acme", "code": "A1"})
    records.delete("account", first["id"])
    assert records.create("account", {"name": "Other", "code": "A1"})["code"] == "A1"


def test_lookup_to_a_missing_record_is_refused(runtime, crm):
    with pytest.raises(ValidationError) as caught:
        runtime.records().create("quote", {"account": 999})
    assert "999" in caught.value.by_field()["account"][0]


def test_update_changes_only_the_given_fields_and_bumps_the_version(runtime, crm):
    records = runtime.records()
    created = records.create("account", {"name": "Acme", "employees": 5})
    updated = records.update("account", created["id"], {"employees": 6}, expected_version=1)
    assert (updated["name"], updated["employees"], updated["version"]) == ("Acme", 6, 2)


def test_update_is_audited_with_old_and_new_values(runtime, crm):
    records = runtime.records()
    created = records.create("account", {"name": "Acme", "revenue": "10.5"})
    records.update("account", created["id"], {"revenue": "12"})
    with runtime.engine.connect() as conn:
        latest = record_history(conn, "account", created["id"])[0]
    assert latest.action == "update"
    assert latest.changes == {"revenue": ["10.50", "12.00"]}


def test_stale_update_of_a_field_changed_since_raises_conflict_naming_it(runtime, crm):
    records = runtime.records()
    created = records.create("account", {"name": "Acme", "employees": 5})
    records.update("account", created["id"], {"employees": 7}, expected_version=1)
    with pytest.raises(ConflictError) as caught:
        records.update("account", created["id"], {"name": "Acme Ltd", "employees": 9}, expected_version=1)
    assert caught.value.conflicting_fields == ["employees"]
    assert caught.value.current["employees"] == 7


def test_two_updates_from_one_version_leave_exactly_one_change_in_the_audit(runtime, crm):
    records = runtime.records()
    created = records.create("account", {"name": "Acme"})
    records.update("account", created["id"], {"name": "First"}, expected_version=1)
    with pytest.raises(ConflictError):
        records.update("account", created["id"], {"name": "Second"}, expected_version=1)
    with runtime.engine.connect() as conn:
        updates = [e for e in record_history(conn, "account", created["id"]) if e.action == "update"]
    assert [u.changes["name"][1] for u in updates] == ["First"]
    assert runtime.query().get("account", created["id"])["name"] == "First"


def test_delete_moves_the_record_to_the_recycle_bin_and_restore_brings_it_back(runtime, crm):
    records = runtime.records()
    created = records.create("account", {"name": "Acme"})
    records.delete("account", created["id"])
    with pytest.raises(NotFound):
        runtime.query().get("account", created["id"])
    assert runtime.query().get("account", created["id"], deleted=True)["deleted_at"] is not None
    assert records.restore("account", created["id"])["deleted_at"] is None


def test_deleting_a_master_deletes_its_details_and_restore_returns_them(runtime, crm):
    records = runtime.records()
    quote = records.create("quote", {"title": "Q"})
    line = records.create("quote_line", {"quote": quote["id"], "product": "Widget"})
    records.delete("quote", quote["id"])
    assert runtime.query().count("quote_line") == 0
    records.restore("quote", quote["id"])
    assert runtime.query().get("quote_line", line["id"])["product"] == "Widget"


def test_master_detail_child_requires_its_parent(runtime, crm):
    with pytest.raises(ValidationError) as caught:
        runtime.records().create("quote_line", {"product": "Widget"})
    assert "quote" in caught.value.by_field()


def test_bulk_create_reports_every_bad_row_and_writes_nothing(runtime, crm):
    rows = [{"name": "Good"}, {"name": ""}, {"name": "Fine", "employees": -1}]
    with pytest.raises(ValidationError) as caught:
        runtime.records().bulk_create("account", rows)
    assert sorted((e.row, e.field) for e in caught.value.errors) == [(2, "name"), (3, "employees")]
    assert runtime.query().count("account") == 0


def test_bulk_create_with_skip_invalid_writes_the_good_rows(runtime, crm):
    result = runtime.records().bulk_create("account", [{"name": "A"}, {"name": ""}, {"name": "C"}],
                                           skip_invalid=True)
    assert len(result.created) == 2
    assert [e.row for e in result.errors] == [2]


def test_bulk_create_finds_duplicates_within_the_batch(runtime, crm):
    with pytest.raises(ValidationError) as caught:
        runtime.records().bulk_create("account", [{"name": "A", "code": "X"}, {"name": "B", "code": "X"}])
    assert [(e.row, e.field) for e in caught.value.errors] == [(2, "code")]


def test_autonumbers_follow_the_format_in_order(runtime, crm):
    records = runtime.records()
    year = runtime.clock().year
    numbers = [records.create("quote", {"title": str(n)})["number"] for n in range(3)]
    assert numbers == [f"QT-{year}-0001", f"QT-{year}-0002", f"QT-{year}-0003"]


def test_failed_insert_gives_its_autonumber_back(runtime, crm):
    records = runtime.records()
    records.create("quote", {"title": "one"})
    with pytest.raises(ValidationError):
        records.bulk_create("quote", [{"title": "two"}, {"account": 12345}])
    assert records.create("quote", {"title": "three"})["number"].endswith("0002")


FIELD_VALUES = [
    ("text", {}, "hello", "hello"),
    ("textarea", {}, "line one\nline two", "line one\nline two"),
    ("email", {}, "Ann@Example.com", None),
    ("phone", {}, "+86 138 0013 8000", "+86 138 0013 8000"),
    ("url", {}, "https://example.com/a", "https://example.com/a"),
    ("integer", {}, "42", 42),
    ("number", {"precision": 3}, "3.14159", Decimal("3.142")),
    ("currency", {}, "1234.5", Decimal("1234.50")),
    ("percent", {}, "25", Decimal("25.00")),
    ("boolean", {}, "true", True),
    ("date", {}, "2026-03-01", dt.date(2026, 3, 1)),
    ("datetime", {}, "2026-03-01T08:30:00+08:00", dt.datetime(2026, 3, 1, 0, 30, tzinfo=dt.UTC)),
    ("picklist", {"values": [{"value": "a", "label": label("A")}]}, "a", "a"),
    ("multipicklist", {"values": [{"value": "a", "label": label("A")}, {"value": "b", "label": label("B")}]},
     ["b", "a"], ["a", "b"]),
    ("file", {}, {"key": "k1", "name": "a.pdf", "size": 10, "content_type": "application/pdf"},
     {"key": "k1", "name": "a.pdf", "size": 10, "content_type": "application/pdf"}),
]


@pytest.mark.parametrize("kind,options,given,expected", FIELD_VALUES, ids=[v[0] for v in FIELD_VALUES])
def test_every_field_type_round_trips_create_then_get(runtime, install, kind, options, given, expected):
    install(entity_doc("thing", [{"name": "value", "type": kind, **options}]))
    created = runtime.records().create("thing", {"value": given})
    stored = runtime.query().get("thing", created["id"])["value"]
    assert stored == (expected if expected is not None else stored)
    if kind == "email":
        assert stored.lower() == "ann@example.com"


BAD_VALUES = [
    ("integer", {}, "1.5"), ("number", {}, "abc"), ("currency", {}, "12x"), ("boolean", {}, "perhaps"),
    ("date", {}, "2026-02-30"), ("datetime", {}, "yesterday-ish"), ("email", {}, "a@"),
    ("url", {}, "not a url"), ("phone", {}, "12"),
    ("picklist", {"values": [{"value": "a", "label": label("A")}]}, "z"),
    ("multipicklist", {"values": [{"value": "a", "label": label("A")}]}, ["a", "z"]),
]


@pytest.mark.parametrize("kind,options,given", BAD_VALUES, ids=[v[0] for v in BAD_VALUES])
def test_bad_value_of_each_field_type_gets_a_field_error(runtime, install, kind, options, given):
    install(entity_doc("thing", [{"name": "value", "type": kind, **options}]))
    with pytest.raises(ValidationError) as caught:
        runtime.records().create("thing", {"value": given})
    assert list(caught.value.by_field()) == ["value"]


def test_lookup_and_user_fields_round_trip_as_ids(runtime, install):
    install(ACCOUNT, entity_doc("note", [{"name": "account", "type": "lookup", "target": "account"},
                                         {"name": "author", "type": "user"}]))
    from engine.security.users import create_user
    from engine.storage.db import write_transaction

    with write_transaction(runtime.engine) as conn:
        user = create_user(conn, "ann")
    account = runtime.records().create("account", {"name": "Acme"})
    note = runtime.records().create("note", {"account": str(account["id"]), "author": user.id})
    assert (note["account"], note["author"]) == (account["id"], user.id)


def test_system_columns_exist_on_every_entity_table(runtime, crm):
    columns = {c["name"] for c in sa.inspect(runtime.engine).get_columns("account")}
    assert {"id", "owner_id", "created_at", "created_by", "updated_at", "updated_by", "version",
            "deleted_at"} <= columns


# -- messages name entities and fields by their labels, in the actor's language ----------------

COMPANY = entity_doc("company", [{"name": "name", "type": "text"}, {"name": "code", "type": "text", "unique": True}],
                     label={"en": "Company", "zh": "公司"}, plural_label={"en": "Companies", "zh": "公司"})
DEAL = entity_doc("deal", [
    {"name": "name", "type": "text"},
    {"name": "company", "type": "lookup", "target": "company", "on_delete": "restrict",
     "label": {"en": "Customer", "zh": "客户"}},
], label={"en": "Opportunity", "zh": "商机"}, plural_label={"en": "Opportunities", "zh": "商机"})


@pytest.fixture
def deals(install):
    return install(COMPANY, DEAL)


def chinese(runtime):
    import dataclasses

    from engine.security.actors import SYSTEM

    return runtime.records(dataclasses.replace(SYSTEM, locale="zh"))


def delete_refusal(records, company_id: int) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        records.delete("company", company_id)
    return caught.value.by_field()[None]


def test_refused_delete_names_one_child_by_the_entity_label(runtime, deals):
    company = runtime.records().create("company", {"name": "Acme"})
    runtime.records().create("deal", {"name": "Big", "company": company["id"]})
    assert delete_refusal(runtime.records(), company["id"]) == [
        "1 Opportunity still points at this record through Customer"]


def test_refused_delete_names_several_children_by_the_plural_label(runtime, deals):
    company = runtime.records().create("company", {"name": "Acme"})
    runtime.records().bulk_create("deal", [{"name": n, "company": company["id"]} for n in ("A", "B", "C")])
    assert delete_refusal(runtime.records(), company["id"]) == [
        "3 Opportunities still point at this record through Customer"]


def test_refused_delete_uses_the_labels_of_the_actors_language(runtime, deals):
    company = runtime.records().create("company", {"name": "Acme"})
    runtime.records().create("deal", {"name": "Big", "company": company["id"]})
    assert delete_refusal(chinese(runtime), company["id"]) == ["1 商机 still points at this record through 客户"]


def test_lookup_to_a_missing_record_names_the_target_by_its_label(runtime, deals):
    with pytest.raises(ValidationError) as caught:
        chinese(runtime).create("deal", {"name": "Big", "company": 999})
    assert caught.value.by_field()["company"] == ["there is no 公司 with id 999"]


def test_taken_unique_value_names_the_holder_by_its_entity_label(runtime, deals):
    first = runtime.records().create("company", {"name": "Acme", "code": "A1"})
    with pytest.raises(ValidationError) as caught:
        runtime.records().create("company", {"name": "Other", "code": "A1"})
    assert caught.value.by_field()["code"] == [f"'A1' is already used by Company {first['id']}"]


def test_unknown_field_is_refused_naming_the_entity_by_its_label(runtime, deals):
    with pytest.raises(ValidationError) as caught:
        runtime.records().create("company", {"name": "Acme", "colour": "red"})
    assert caught.value.by_field()["colour"] == ["is not a field of Company"]
