"""Role permissions in app.json: scopes per entity, field limits, admin rights, checked and round-tripped."""
from __future__ import annotations

import copy

import metamodel
from metamodel.model import EntityGrant

DOCUMENTS = {
    "app.json": {"name": "mini", "version": "1.0.0", "label": "Mini", "roles": [
        {"name": "rep", "label": "Rep",
         "permissions": {"account": "own", "*": {"read": "all"}, "lead": {"create": "own", "read": "department"}},
         "field_access": {"account": {"revenue": "hidden"}},
         "rights": ["export"]}]},
    "entities/account.json": {"name": "account", "label": "Account", "plural_label": "Accounts", "fields": [
        {"name": "name", "type": "text", "label": "Name"}, {"name": "revenue", "type": "currency", "label": "Revenue"}]},
    "entities/lead.json": {"name": "lead", "label": "Lead", "plural_label": "Leads", "fields": [
        {"name": "name", "type": "text", "label": "Name"}]},
}


def with_role(**changes):
    documents = copy.deepcopy(DOCUMENTS)
    documents["app.json"]["roles"][0].update(changes)
    return documents


def issues(documents) -> list[str]:
    return [str(i) for i in metamodel.validate_documents(documents).issues]


def test_scope_string_grants_every_action_and_missing_actions_are_none():
    role = metamodel.app_from_documents(DOCUMENTS).roles[0]
    assert role.permissions["account"] == EntityGrant("own", "own", "own", "own")
    assert role.permissions["lead"] == EntityGrant(create="own", read="department")
    assert role.field_access["account"]["revenue"] == "hidden" and role.rights == ("export",)


def test_role_permissions_round_trip_exactly():
    assert metamodel.app_to_documents(metamodel.app_from_documents(DOCUMENTS))["app.json"] == DOCUMENTS["app.json"]


def test_unknown_scope_is_reported_at_its_path():
    found = issues(with_role(permissions={"account": "mine"}))
    assert len(found) == 1 and found[0].startswith("app.json /roles/0/permissions/account")


def test_permission_on_an_unknown_entity_is_reported_with_a_suggestion():
    assert issues(with_role(permissions={"acount": "own"})) == [
        "app.json /roles/0/permissions/acount: there is no entity 'acount'; did you mean 'account'?"]


def test_field_limit_on_an_unknown_field_is_reported_with_a_suggestion():
    assert issues(with_role(field_access={"account": {"revenu": "hidden"}})) == [
        "app.json /roles/0/field_access/account/revenu: entity 'account' has no field 'revenu'; "
        "did you mean 'revenue'?"]


def test_unknown_right_is_reported():
    assert any("/roles/0/rights/0" in text for text in issues(with_role(rights=["everything"])))


# -- computed fields over a field a role hides ---------------------------------------------------
def with_account_fields(*fields):
    documents = copy.deepcopy(DOCUMENTS)
    documents["entities/account.json"]["fields"].extend(fields)
    return documents


def test_formula_field_reading_a_field_a_role_hides_is_a_warning_naming_the_role():
    report = metamodel.validate_documents(with_account_fields(
        {"name": "revenue_x2", "type": "formula", "label": "Twice", "expression": "revenue * 2", "returns": "currency"}))
    assert report.ok and report.app is not None and report.errors == []
    assert [str(w) for w in report.warnings] == [
        "entities/account.json /fields/2/expression: warning: revenue_x2 reads account.revenue, which role 'rep' "
        "hides, so revenue_x2 is hidden from 'rep' too; read another field, or hide the computed field from "
        "that role explicitly"]


def test_formula_field_reading_a_hidden_field_across_a_lookup_is_a_warning():
    documents = copy.deepcopy(DOCUMENTS)
    documents["entities/lead.json"]["fields"].extend([
        {"name": "account", "type": "lookup", "label": "Account", "target": "account"},
        {"name": "account_revenue", "type": "formula", "label": "Revenue", "expression": "account.revenue",
         "returns": "currency"}])
    warnings = [(w.file, w.path) for w in metamodel.validate_documents(documents).warnings]
    assert warnings == [("entities/lead.json", "/fields/2/expression")]


def test_rollup_summing_a_field_a_role_hides_is_a_warning():
    documents = with_account_fields({"name": "parent", "type": "lookup", "label": "Parent", "target": "account"},
                                    {"name": "group_revenue", "type": "rollup", "label": "Group", "child": "account",
                                     "via": "parent", "function": "SUM", "field": "revenue"})
    assert [w.path for w in metamodel.validate_documents(documents).warnings] == ["/fields/3/field"]
