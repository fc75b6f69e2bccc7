"""A field hidden from a reader stays hidden through formulas: formula filters and paths at every hop,
formula fields and rollups computed from it, directly or through other computed fields."""
from __future__ import annotations

import pytest
from engine_apps import entity_doc

from engine.errors import ValidationError
from engine.security.actors import Actor
from engine.security.grants import RoleRules, merge_roles
from metamodel.model import ANY_ENTITY, Condition, EntityGrant, SortKey

ACCOUNT = entity_doc("account", [
    {"name": "name", "type": "text"},
    {"name": "annual_revenue", "type": "currency"},
    {"name": "parent", "type": "lookup", "target": "account"},
    {"name": "revenue_x2", "type": "formula", "expression": "annual_revenue * 2", "returns": "currency"},
    {"name": "revenue_x4", "type": "formula", "expression": "revenue_x2 * 2", "returns": "currency"},
    {"name": "name_length", "type": "formula", "expression": "LEN(name)", "returns": "number"},
    {"name": "won_total", "type": "rollup", "child": "deal", "via": "account", "function": "SUM", "field": "margin"},
    {"name": "big_deals", "type": "rollup", "child": "deal", "via": "account", "function": "COUNT",
     "filter": "margin > 100"},
    {"name": "deal_count", "type": "rollup", "child": "deal", "via": "account", "function": "COUNT"},
])

CONTACT = entity_doc("contact", [
    {"name": "name", "type": "text"},
    {"name": "account", "type": "lookup", "target": "account"},
    {"name": "parent_revenue", "type": "formula", "expression": "account.parent.annual_revenue",
     "returns": "currency"},
])

DEAL = entity_doc("deal", [
    {"name": "name", "type": "text"},
    {"name": "account", "type": "lookup", "target": "account"},
    {"name": "margin", "type": "currency"},
])


def reader(limits: dict[str, dict[str, str]]) -> Actor:
    """A user who reads every record, with the given fields hidden or read-only."""
    rules = RoleRules({ANY_ENTITY: EntityGrant("all", "all", "all", "all")}, limits)
    return Actor(99, "reader", permissions=merge_roles([rules], []))


MARKETING = reader({"account": {"annual_revenue": "hidden"}})
FINANCE = reader({})
NO_MARGINS = reader({"deal": {"margin": "hidden"}})


@pytest.fixture
def crm(runtime, install):
    install(ACCOUNT, CONTACT, DEAL)
    records = runtime.records()
    holding = records.create("account", {"name": "Holding", "annual_revenue": "9000000"})
    big = records.create("account", {"name": "Big", "annual_revenue": "8000000", "parent": holding["id"]})
    small = records.create("account", {"name": "Small", "annual_revenue": "10", "parent": big["id"]})
    records.create("contact", {"name": "Ann", "account": big["id"]})
    bo = records.create("contact", {"name": "Bo", "account": small["id"]})
    records.create("deal", {"name": "d1", "account": big["id"], "margin": "500"})
    return {"holding": holding["id"], "big": big["id"], "small": small["id"], "bo": bo["id"]}


def refusal(call) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        call()
    return [str(e) for e in caught.value.errors]


# -- formula filters ------------------------------------------------------------------------------
def test_formula_filter_reading_a_hidden_field_is_refused_naming_it(runtime, crm):
    errors = refusal(lambda: runtime.query(MARKETING).list("account", formula="annual_revenue > 7000000"))
    assert len(errors) == 1 and errors[0].startswith("formula: annual_revenue: you cannot read this field")


def test_formula_filter_reading_a_hidden_field_through_a_lookup_is_refused(runtime, crm):
    errors = refusal(lambda: runtime.query(MARKETING).list("contact", formula="account.annual_revenue > 7000000"))
    assert errors[0].startswith("formula: account.annual_revenue: you cannot read this field (line 1, column 1)")


def test_formula_filter_reading_a_hidden_field_through_two_lookups_is_refused(runtime, crm):
    errors = refusal(lambda: runtime.query(MARKETING).count(
        "contact", formula='name <> "" && account.parent.annual_revenue > 7000000'))
    assert errors[0].startswith("formula: account.parent.annual_revenue: you cannot read this field "
                                "(line 1, column 15)")


def test_formula_filter_reading_a_computed_field_built_on_a_hidden_field_is_refused(runtime, crm):
    errors = refusal(lambda: runtime.query(MARKETING).list("contact", formula="account.revenue_x4 > 1"))
    assert errors[0].startswith("formula: account.revenue_x4: you cannot read this field")


def test_formula_filter_reading_a_hidden_field_is_allowed_for_a_role_that_sees_it(runtime, crm):
    page = runtime.query(FINANCE).list("contact", formula="account.annual_revenue > 7000000")
    assert [r["name"] for r in page.rows] == ["Ann"]


# -- filters, sorts and columns naming a path -----------------------------------------------------
def test_filter_on_a_path_through_a_hidden_hop_is_refused(runtime, crm):
    reps = reader({"account": {"parent": "hidden"}})
    errors = refusal(lambda: runtime.query(reps).list(
        "contact", filters=[Condition("account.parent.name", "eq", "Holding")]))
    assert errors == ["account.parent.name: is not a field of contact"]


def test_list_column_through_a_hidden_hop_is_refused_naming_the_hop(runtime, crm):
    reps = reader({"account": {"parent": "hidden"}})
    errors = refusal(lambda: runtime.query(reps).list("contact", paths=["account.parent.name"]))
    assert errors == ["account.parent: you cannot read this field"]


def test_sort_by_a_formula_field_reading_a_hidden_field_is_refused(runtime, crm):
    errors = refusal(lambda: runtime.query(MARKETING).list("account", sort=[SortKey("revenue_x2", "desc")]))
    assert errors == ["revenue_x2: cannot be sorted on"]


def test_sort_across_a_lookup_by_a_formula_field_reading_a_hidden_field_is_refused(runtime, crm):
    errors = refusal(lambda: runtime.query(MARKETING).list("contact", sort=[SortKey("account.revenue_x2")]))
    assert errors == ["account.revenue_x2: cannot be sorted on"]


def test_filter_on_a_formula_field_reading_a_hidden_field_is_refused(runtime, crm):
    errors = refusal(lambda: runtime.query(MARKETING).list(
        "account", filters=[Condition("revenue_x2", "gt", "1000")]))
    assert errors == ["revenue_x2: is not a field of account"]


# -- formula and rollup fields --------------------------------------------------------------------
def test_formula_field_reading_a_hidden_field_is_hidden_from_that_role(runtime, crm):
    record = runtime.query(MARKETING).get("account", crm["big"])
    assert "revenue_x2" not in record and record["name_length"] == 3


def test_formula_field_reading_a_hidden_field_is_shown_to_a_role_that_sees_it(runtime, crm):
    assert runtime.query(FINANCE).get("account", crm["big"])["revenue_x2"] == 16000000


def test_formula_field_built_on_another_formula_field_reading_a_hidden_field_is_hidden(runtime, crm):
    rows = runtime.query(MARKETING).list("account").rows
    assert rows and not any("revenue_x4" in r for r in rows)


def test_formula_field_reading_a_hidden_field_two_lookups_away_is_hidden(runtime, crm):
    assert runtime.query(FINANCE).get("contact", crm["bo"])["parent_revenue"] == 8000000
    assert "parent_revenue" not in runtime.query(MARKETING).get("contact", crm["bo"])


def test_rollup_summing_a_hidden_child_field_is_hidden(runtime, crm):
    record = runtime.query(NO_MARGINS).get("account", crm["big"])
    assert "won_total" not in record and record["deal_count"] == 1


def test_rollup_whose_filter_reads_a_hidden_child_field_is_hidden(runtime, crm):
    assert "big_deals" not in runtime.query(NO_MARGINS).get("account", crm["big"])


def test_registry_knows_every_field_a_computed_field_reads(install):
    registry = install(ACCOUNT, CONTACT, DEAL)
    assert registry.formulas["account"].reads["revenue_x4"] == {("account", "revenue_x2"),
                                                                ("account", "annual_revenue")}
    assert registry.formulas["contact"].reads["parent_revenue"] == {
        ("contact", "account"), ("account", "parent"), ("account", "annual_revenue")}
    assert registry.formulas["account"].reads["big_deals"] == {("deal", "account"), ("deal", "margin")}


def test_group_totals_refuse_to_sum_a_formula_field_reading_a_hidden_field(runtime, crm):
    errors = refusal(lambda: runtime.query(MARKETING).group_totals("account", "name", "revenue_x2"))
    assert errors == ["revenue_x2: you cannot read this field"]
