"""Schema and semantic checks: every problem reported with its file, JSON path and a fix."""
from __future__ import annotations

import pytest

import metamodel


def issue_texts(documents) -> list[str]:
    return [str(i) for i in metamodel.validate_documents(documents).issues]


def only_issue(documents) -> str:
    texts = issue_texts(documents)
    assert len(texts) == 1, texts
    return texts[0]


def opportunity(documents) -> dict:
    return documents["entities/opportunity.json"]


def field_named(entity: dict, name: str) -> dict:
    return next(f for f in entity["fields"] if f["name"] == name)


# -- the broken folder: every error at once -------------------------------------------------
BROKEN_EXPECTED = [
    "app.json /navigation/0/items/0/entity: there is no entity 'acount'; did you mean 'account'?",
    "app.json /version: '1.0' is not a semantic version such as 1.0.0",
    "entities/contact.json:5:54: invalid JSON: Expecting property name enclosed in double quotes",
    "entities/opportunity.json /fields/1/name: 'Amount Total' is not a legal name: use lowercase "
    "letters, digits and underscores, starting with a letter; did you mean 'amount_total'?",
    "entities/opportunity.json /fields/2/target: there is no entity 'acount'; did you mean 'account'?",
    "entities/opportunity.json /fields/3/type: 'currancy' is not a field type; did you mean 'currency'?",
    "entities/opportunity.json /layouts/0/sections/0/fields/1: entity 'opportunity' has no field "
    "'stag'; did you mean 'stage'?",
    "entities/quote.json /fields/1: master-detail cycle: quote -> quote_line -> quote; "
    "make one of these links a lookup",
]


def test_broken_folder_reports_every_error_with_file_and_path(broken_app_path):
    assert [str(i) for i in metamodel.validate_app(broken_app_path).issues] == BROKEN_EXPECTED


def test_load_app_of_broken_folder_raises_with_all_issues(broken_app_path):
    with pytest.raises(metamodel.MetadataError) as caught:
        metamodel.load_app(broken_app_path)
    assert len(caught.value.issues) == len(BROKEN_EXPECTED)


def test_valid_app_has_no_issues(documents):
    assert issue_texts(documents) == []


# -- schema ---------------------------------------------------------------------------------
def test_unknown_key_of_a_field_type_is_reported_with_suggestion(documents):
    field_named(opportunity(documents), "name")["max_lenght"] = 10
    assert only_issue(documents) == ("entities/opportunity.json /fields/0/max_lenght: "
                                     "'max_lenght' is not a known key here; did you mean 'max_length'?")


def test_key_of_another_field_type_is_not_allowed(documents):
    field_named(opportunity(documents), "name")["currency"] = "USD"
    assert "/fields/0/currency: 'currency' is not a known key here" in only_issue(documents)


def test_missing_required_option_is_reported(documents):
    del field_named(opportunity(documents), "account")["target"]
    assert only_issue(documents) == "entities/opportunity.json /fields/1: 'target' is required"


def test_label_without_english_is_reported(documents):
    opportunity(documents)["label"] = {"zh": "商机"}
    assert "entities/opportunity.json /label:" in only_issue(documents)


def test_unknown_filter_operator_suggests_the_closest(documents):
    opportunity(documents)["list_views"][0]["filters"][0]["op"] = "notin"
    assert only_issue(documents).endswith("'notin' is not a filter operator; did you mean 'not_in'?")


# -- names ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "message"), [
    ("fw_secret", "reserved for the system"),
    ("created_at", "is a system column name"),
    ("a" * 64, "longer than 63 characters"),
    ("9lives", "not a legal name"),
])
def test_illegal_field_names_are_reported(documents, name, message):
    field_named(opportunity(documents), "close_date")["name"] = name
    opportunity(documents)["indexes"] = []
    opportunity(documents)["layouts"][0]["sections"][0]["fields"].pop()
    opportunity(documents)["list_views"][0]["sort"] = []
    assert message in only_issue(documents)


def test_repeated_field_name_is_reported(documents):
    field_named(opportunity(documents), "close_date")["name"] = "amount"
    assert any("/fields/4/name: 'amount' is used twice" in t for t in issue_texts(documents))


def test_index_names_are_unique_across_the_app(documents):
    documents["entities/account.json"]["indexes"] = [{"name": "opportunity_stage_close", "fields": ["name"]}]
    assert "is used twice in the app" in only_issue(documents)


def test_entity_file_name_must_match_its_name(documents):
    documents["entities/deal.json"] = documents.pop("entities/opportunity.json")
    assert "entities/deal.json /name: the name 'opportunity' does not match the file name" in only_issue(documents)


# -- references and values ------------------------------------------------------------------
def test_title_field_must_exist(documents):
    documents["entities/account.json"]["title_field"] = "nam"
    assert only_issue(documents).endswith("/title_field: entity 'account' has no field 'nam'; did you mean 'name'?")


def test_list_view_column_may_follow_a_lookup_but_must_exist(documents):
    opportunity(documents)["list_views"][0]["columns"][1] = "account.nme"
    assert "/list_views/0/columns/1: entity 'account' has no field 'nme'" in only_issue(documents)


def test_stage_field_must_be_a_picklist(documents):
    opportunity(documents)["list_views"][0]["stage_field"] = "name"
    assert "/list_views/0/stage_field: the stage field 'name' must be a picklist" in only_issue(documents)


def test_filter_value_must_be_a_value_of_the_field(documents):
    opportunity(documents)["list_views"][0]["filters"][0]["value"] = ["won", "maybe"]
    assert "/filters/0/value/1: 'maybe' is not one of the values" in only_issue(documents)


def test_between_filter_needs_two_values(documents):
    opportunity(documents)["list_views"][0]["filters"] = [{"field": "amount", "op": "between", "value": [1]}]
    assert "between takes two values" in only_issue(documents)


def test_index_must_name_existing_fields(documents):
    opportunity(documents)["indexes"][0]["fields"][1] = "closed"
    assert "/indexes/0/fields/1: entity 'opportunity' has no field 'closed'" in only_issue(documents)


def test_default_must_be_a_value_of_the_field(documents):
    field_named(opportunity(documents), "stage")["default"] = "open"
    assert "/fields/3/default: the default 'open' is not one of the values" in only_issue(documents)


def test_default_of_a_numeric_field_is_coerced(documents):
    field_named(opportunity(documents), "amount")["default"] = "lots"
    assert "/fields/2/default: the default 'lots' must be a number" in only_issue(documents)


def test_repeated_picklist_value_is_reported(documents):
    values = field_named(opportunity(documents), "stage")["values"]
    values.append({"value": "won", "label": "Won again"})
    assert "/fields/3/values/1/value: the value 'won' is listed twice" in only_issue(documents)


def test_rollup_via_must_point_back_at_the_parent(documents):
    opportunity(documents)["fields"].append({"name": "partner", "type": "lookup", "label": "P",
                                             "target": "opportunity"})
    field_named(documents["entities/account.json"], "open_amount")["via"] = "partner"
    assert "/fields/2/via: opportunity.partner does not point at 'account'" in only_issue(documents)


def test_rollup_sum_of_text_is_reported(documents):
    field_named(documents["entities/account.json"], "open_amount")["field"] = "name"
    assert "SUM cannot aggregate opportunity.name" in only_issue(documents)


def test_navigation_kanban_needs_a_stage_field(documents):
    del opportunity(documents)["list_views"][0]["stage_field"]
    assert "app.json /navigation/0/items/1/view: 'opportunity' has no list view with a stage_field" in (
        only_issue(documents))


def test_flow_entity_must_exist(documents):
    documents["flows/opportunity_pipeline.json"]["entity"] = "oportunity"
    assert only_issue(documents).endswith("/entity: there is no entity 'oportunity'; did you mean 'opportunity'?")


def test_seed_rows_name_fields_of_their_entity(documents):
    documents["seed/account.json"][0]["webside"] = "x"
    assert "seed/account.json /0/webside: entity 'account' has no field 'webside'" in only_issue(documents)


def test_master_detail_to_itself_is_a_cycle(documents):
    documents["entities/account.json"]["fields"].append(
        {"name": "parent", "type": "master_detail", "label": "Parent", "target": "account"})
    assert "master-detail cycle: account -> account" in only_issue(documents)


def test_broken_field_is_not_reported_again_as_missing(documents):
    field_named(opportunity(documents), "stage")["type"] = "picklst"
    assert "'picklst' is not a field type; did you mean 'picklist'?" in only_issue(documents)
