"""Upgrade plans list every metadata change, and say which existing records a new constraint breaks."""
from __future__ import annotations

import copy

import pytest
from engine_apps import ACCOUNT, build_app, label

from engine.apps import install_app, plan_app


@pytest.fixture
def accounts(runtime):
    """Installs the account app with five accounts: two without a code, two sharing one."""
    install_app(runtime, build_app(ACCOUNT))
    runtime.records().bulk_create("account", [
        {"name": "Acme", "code": "A1", "grade": "vip", "employees": 500},
        {"name": "Bolt", "grade": "regular", "employees": 20},
        {"name": "Crane", "code": "C1", "grade": "vip", "employees": 5},
        {"name": "Delta", "employees": 40},
        {"name": "A very long company name", "code": "E1", "revenue": "-10"},
    ])
    return runtime


def upgraded(change, **extra):
    """Returns the account app at 1.1.0 with `change` applied to one field (name -> document)."""
    doc = copy.deepcopy(ACCOUNT)
    fields = {f["name"]: f for f in doc["fields"]}
    for name, edit in change.items():
        edit(fields[name])
    doc.update(extra)
    return build_app(doc, version="1.1.0")


def change_for(plan, subject):
    return next(c for c in plan.changes if c.subject == subject)


def test_required_on_a_field_with_blank_rows_reports_the_count_and_the_rows(accounts):
    plan = plan_app(accounts, upgraded({"code": lambda f: f.update(required=True)}))
    change = change_for(plan, "field account.code")
    assert change.affected.total == 2
    assert [(r.title, r.id) for r in change.affected.rows] == [("Bolt", 2), ("Delta", 4)]
    assert "field account.code becomes required — 2 existing records break it: Bolt (id 2), Delta (id 4)" \
        in plan.describe()


def test_unique_over_duplicates_lists_every_record_sharing_a_value(accounts):
    plan = plan_app(accounts, upgraded({"grade": lambda f: f.update(unique=True)}))
    change = change_for(plan, "field account.grade")
    assert change.affected.total == 2
    assert [r.title for r in change.affected.rows] == ["Acme", "Crane"]


def test_removed_picklist_value_in_use_lists_the_records_holding_it(accounts):
    plan = plan_app(accounts, upgraded({"grade": lambda f: f.update(
        values=[{"value": "vip", "label": label("VIP")}])}))
    change = change_for(plan, "field account.grade")
    assert change.sentence == "field account.grade: values lose regular"
    assert [(r.title, r.id) for r in change.affected.rows] == [("Bolt", 2)]


def test_narrower_max_length_lists_the_records_too_long_for_it(accounts):
    plan = plan_app(accounts, upgraded({"name": lambda f: f.update(max_length=10)}))
    change = change_for(plan, "field account.name")
    assert change.sentence == "field account.name: max length 100 -> 10"
    assert change.affected.total == 1
    assert change.affected.rows[0].id == 5


def test_lower_max_lists_the_records_above_it(accounts):
    plan = plan_app(accounts, upgraded({"employees": lambda f: f.update(max=100)}))
    assert [r.title for r in change_for(plan, "field account.employees").affected.rows] == ["Acme"]


def test_validation_rule_broken_by_existing_rows_reports_them(accounts):
    rule = {"name": "no_negative_revenue", "condition": "revenue < 0", "message": label("Revenue is negative")}
    plan = plan_app(accounts, upgraded({}, validation_rules=[rule]))
    change = change_for(plan, "rule account.no_negative_revenue")
    assert change.affected.total == 1
    assert "rule account.no_negative_revenue added: revenue < 0 — 1 existing record breaks it: " \
           "A very long company name (id 5)" in plan.describe()


def test_label_only_change_is_listed_without_a_data_effect(accounts):
    plan = plan_app(accounts, upgraded({"region": lambda f: f.update(label=label("Sales region"))}))
    assert [c.describe() for c in plan.changes] == ["field account.region: label 'Region' -> 'Sales region'"]
    assert plan.changes[0].affected is None
    assert plan.plan.is_empty and not plan.refused


def test_layout_change_names_the_section_and_the_field_it_gains(accounts):
    def layout(*fields):
        return [{"name": "default", "sections": [{"name": "details", "label": label("Details"), "columns": 2,
                                                  "fields": list(fields)}]}]

    install_app(accounts, upgraded({}, layouts=layout("name", "code")))
    plan = plan_app(accounts, build_app({**ACCOUNT, "layouts": layout("name", "code", "email")}, version="1.2.0"))
    assert [c.describe() for c in plan.changes] == ["layout of account: section 'Details' gains email"]
