"""Formula and rollup fields through the query path; validation rules and default formulas on write."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from engine_apps import entity_doc, label

from engine.errors import ValidationError
from metamodel.model import Condition, SortKey

GRADES = [{"value": "vip", "label": label("VIP")}, {"value": "regular", "label": label("Regular")}]

ACCOUNT = entity_doc("account", [
    {"name": "name", "type": "text"},
    {"name": "grade", "type": "picklist", "values": GRADES},
    {"name": "deal_total", "type": "rollup", "child": "deal", "via": "account", "function": "SUM",
     "field": "weighted"},
    {"name": "open_deals", "type": "rollup", "child": "deal", "via": "account", "function": "COUNT",
     "filter": "NOT(closed)"},
])

DEAL = entity_doc("deal", [
    {"name": "name", "type": "text"},
    {"name": "account", "type": "lookup", "target": "account"},
    {"name": "amount", "type": "currency"},
    {"name": "probability", "type": "percent"},
    {"name": "closed", "type": "boolean"},
    {"name": "weighted", "type": "formula", "expression": "amount * probability", "returns": "currency"},
    {"name": "vip_deal", "type": "formula", "expression": 'ISPICKVAL(account.grade, "vip")', "returns": "boolean"},
    {"name": "follow_up", "type": "date", "default_formula": "TODAY() + 7"},
    {"name": "customer", "type": "text", "default_formula": "account.name"},
], validation_rules=[
    {"name": "closed_needs_amount", "condition": "AND(closed, ISBLANK(amount))", "field": "amount",
     "message": {"en": "A closed deal needs an amount", "zh": "成交需要金额"}},
    {"name": "no_reopening", "condition": "AND(ISCHANGED(closed), PRIORVALUE(closed))",
     "message": {"en": "A closed deal cannot be reopened"}},
])


@pytest.fixture
def deals(runtime, install):
    install(ACCOUNT, DEAL)
    records = runtime.records()
    vip = records.create("account", {"name": "Big", "grade": "vip"})
    small = records.create("account", {"name": "Small", "grade": "regular"})
    records.bulk_create("deal", [
        {"name": "a", "account": vip["id"], "amount": "1000", "probability": "50"},
        {"name": "b", "account": vip["id"], "amount": "200", "probability": "100", "closed": True},
        {"name": "c", "account": small["id"], "amount": "300", "probability": "10"},
        {"name": "d", "amount": "50", "probability": "20"},
    ])
    return records


def names(page):
    return [r["name"] for r in page.rows]


def test_formula_field_is_computed_when_read(runtime, deals):
    deal = runtime.query().list("deal", filters=[Condition("name", "eq", "a")]).rows[0]
    assert deal["weighted"] == Decimal("500.00")


def test_formula_across_a_lookup_reads_the_parent_record(runtime, deals):
    page = runtime.query().list("deal", sort=[SortKey("name")])
    assert [r["vip_deal"] for r in page.rows] == [True, True, False, False]


def test_formula_field_can_be_filtered(runtime, deals):
    page = runtime.query().list("deal", filters=[Condition("weighted", "ge", "200")], sort=[SortKey("name")])
    assert names(page) == ["a", "b"]


def test_formula_field_can_be_sorted_and_paged(runtime, deals):
    query = runtime.query()
    first = query.list("deal", sort=[SortKey("weighted", "desc")], limit=2)
    second = query.list("deal", sort=[SortKey("weighted", "desc")], limit=2, cursor=first.next_cursor)
    assert names(first) + names(second) == ["a", "b", "c", "d"]


def test_rollup_sums_a_formula_of_the_children(runtime, deals):
    accounts = {r["name"]: r for r in runtime.query().list("account").rows}
    assert accounts["Big"]["deal_total"] == Decimal("700.00")
    assert accounts["Small"]["deal_total"] == Decimal("30.00")


def test_rollup_counts_only_children_matching_its_filter(runtime, deals):
    accounts = {r["name"]: r["open_deals"] for r in runtime.query().list("account").rows}
    assert accounts == {"Big": 1, "Small": 1}


def test_rollup_ignores_deleted_children(runtime, deals):
    deal_a = runtime.query().list("deal", filters=[Condition("name", "eq", "a")]).rows[0]
    deals.delete("deal", deal_a["id"])
    big = runtime.query().list("account", filters=[Condition("name", "eq", "Big")]).rows[0]
    assert big["deal_total"] == Decimal("200.00")


def test_rollup_can_be_filtered_and_sorted(runtime, deals):
    page = runtime.query().list("account", filters=[Condition("deal_total", "gt", "100")],
                                sort=[SortKey("deal_total", "desc")])
    assert names(page) == ["Big"]


def test_formula_filter_selects_matching_records(runtime, deals):
    page = runtime.query().list("deal", formula="amount * probability > 100 && !closed", sort=[SortKey("name")])
    assert names(page) == ["a"]


def test_formula_filter_that_is_not_a_condition_is_refused(runtime, deals):
    with pytest.raises(ValidationError, match="true or false"):
        runtime.query().list("deal", formula="amount * 2")


def test_validation_rule_message_is_put_on_its_field(runtime, deals):
    with pytest.raises(ValidationError) as caught:
        deals.create("deal", {"name": "e", "closed": True})
    assert caught.value.by_field() == {"amount": ["A closed deal needs an amount"]}


def test_validation_rule_can_compare_with_the_prior_value(runtime, deals):
    closed = runtime.query().list("deal", filters=[Condition("name", "eq", "b")]).rows[0]
    with pytest.raises(ValidationError) as caught:
        deals.update("deal", closed["id"], {"closed": False})
    assert caught.value.by_field() == {None: ["A closed deal cannot be reopened"]}


def test_default_formula_fills_a_missing_value(runtime, deals):
    created = deals.create("deal", {"name": "e"})
    assert created["follow_up"] == runtime.clock().date() + dt.timedelta(days=7)


def test_given_value_wins_over_the_default_formula(runtime, deals):
    created = deals.create("deal", {"name": "e", "follow_up": "2030-01-01"})
    assert created["follow_up"] == dt.date(2030, 1, 1)


def test_computed_field_cannot_be_written(runtime, deals):
    with pytest.raises(ValidationError) as caught:
        deals.create("deal", {"name": "e", "weighted": "5"})
    assert "weighted" in caught.value.by_field()


def test_group_totals_sum_a_formula_per_group(runtime, deals):
    totals = runtime.query().group_totals("deal", "closed", "weighted")
    assert totals[True].count == 1 and totals[True].total == Decimal("200")


def test_count_rollup_is_a_whole_number(runtime, deals):
    big = runtime.query().list("account", filters=[Condition("name", "eq", "Big")]).rows[0]
    assert big["open_deals"] == 1 and isinstance(big["open_deals"], int)


def test_default_formula_fills_a_value_left_blank(runtime, deals):
    created = deals.create("deal", {"name": "e", "follow_up": ""})
    assert created["follow_up"] == runtime.clock().date() + dt.timedelta(days=7)


def test_default_formula_reads_the_linked_record(runtime, deals):
    big = runtime.query().list("account", filters=[Condition("name", "eq", "Big")]).rows[0]
    created = deals.create("deal", {"name": "e", "account": big["id"], "customer": ""})
    assert created["customer"] == "Big"


def test_rules_read_integer_fields_as_numbers_now_and_before(runtime, install):
    rules = [{"name": "staff_grows", "field": "employees",
              "condition": 'AND(NOT(ISNEW()), VALUE(TEXT(employees)) < VALUE(TEXT(PRIORVALUE(employees))))',
              "message": {"en": "Staff only grows"}}]
    install(entity_doc("firm", [{"name": "name", "type": "text"}, {"name": "employees", "type": "integer"}],
                       validation_rules=rules))
    firm = runtime.records().create("firm", {"name": "Acme", "employees": 5})
    assert runtime.records().update("firm", firm["id"], {"employees": 7})["employees"] == 7
    with pytest.raises(ValidationError, match="Staff only grows"):
        runtime.records().update("firm", firm["id"], {"employees": 3})
