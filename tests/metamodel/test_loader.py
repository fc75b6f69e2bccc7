"""Loading apps from folders and documents, writing them back, and the shape of the result."""
from __future__ import annotations

import json

import pytest

import metamodel
from metamodel import MetadataError, MetadataIssue
from metamodel.model import AppDef


def test_load_app_returns_frozen_app_of_the_folder(small_app_path):
    app = metamodel.load_app(small_app_path)
    assert isinstance(app, AppDef)
    assert app.name == "small_crm"
    assert sorted(app.entities) == ["account", "opportunity"]


def test_load_app_turns_string_labels_into_english_mappings(small_app_path):
    app = metamodel.load_app(small_app_path)
    assert dict(app.entity("account").field("name").label) == {"en": "Name"}


def test_load_app_keeps_type_specific_keys_as_options(small_app_path):
    amount = metamodel.load_app(small_app_path).entity("opportunity").field("amount")
    assert amount.option("currency") == "CNY" and amount.option("min") == 0


def test_loaded_options_are_read_only(small_app_path):
    stage = metamodel.load_app(small_app_path).entity("opportunity").field("stage")
    with pytest.raises(TypeError):
        stage.option("values")[0]["value"] = "changed"


def test_rollup_result_type_is_its_child_fields_type(small_app_path):
    rollup = metamodel.load_app(small_app_path).entity("account").field("open_amount")
    assert metamodel.field_type("rollup").formula_type_of(rollup) == "currency"


def test_flow_envelope_is_split_from_its_body(small_app_path):
    flow = metamodel.load_app(small_app_path).flows["opportunity_pipeline"]
    assert (flow.kind, flow.entity, flow.version) == ("pipeline", "opportunity", 1)
    assert flow.body["stage_field"] == "stage"


def test_seed_rows_are_keyed_by_entity(small_app_path):
    assert metamodel.load_app(small_app_path).seed["account"][0]["name"] == "Acme"


def test_documents_round_trip_exactly_when_already_canonical(small_app_path, read_folder):
    documents = read_folder(small_app_path)
    assert metamodel.app_to_documents(metamodel.app_from_documents(documents)) == documents


def test_normalising_documents_is_idempotent(documents):
    documents["entities/account.json"]["label"] = {"en": "Account"}
    documents["entities/account.json"]["fields"][0]["unique"] = False
    once = metamodel.app_to_documents(metamodel.app_from_documents(documents))
    assert metamodel.app_to_documents(metamodel.app_from_documents(once)) == once
    assert once["entities/account.json"]["label"] == "Account"
    assert "unique" not in once["entities/account.json"]["fields"][0]


def test_app_to_documents_lists_files_in_sorted_order(small_app_path):
    keys = list(metamodel.app_to_documents(metamodel.load_app(small_app_path)))
    assert keys == sorted(keys)


def test_write_app_writes_a_folder_that_reloads_to_the_same_app(small_app_path, tmp_path):
    app = metamodel.load_app(small_app_path)
    metamodel.write_app(app, tmp_path)
    assert metamodel.load_app(tmp_path) == app


def test_write_app_writes_indented_utf8_with_trailing_newline(small_app_path, tmp_path):
    metamodel.write_app(metamodel.load_app(small_app_path), tmp_path)
    text = (tmp_path / "app.json").read_text(encoding="utf-8")
    assert text.endswith("}\n") and "小型客户关系管理" in text and text.startswith('{\n  "name"')


def test_app_from_documents_raises_metadata_error_listing_issues(documents):
    documents["entities/account.json"]["fields"][0]["type"] = "txt"
    with pytest.raises(MetadataError) as caught:
        metamodel.app_from_documents(documents)
    assert [str(i) for i in caught.value.issues] == [
        "entities/account.json /fields/0/type: 'txt' is not a field type; did you mean 'text'?"]


def test_validate_app_returns_no_app_when_there_are_issues(broken_app_path):
    report = metamodel.validate_app(broken_app_path)
    assert report.app is None and report.issues


def test_missing_app_json_is_an_issue(tmp_path):
    (tmp_path / "entities").mkdir()
    issues = metamodel.validate_app(tmp_path).issues
    assert any(i.file == "app.json" and "missing" in i.message for i in issues)


def test_json_outside_the_app_folders_is_an_issue(small_app_path, tmp_path):
    metamodel.write_app(metamodel.load_app(small_app_path), tmp_path)
    (tmp_path / "notes.json").write_text("{}")
    assert [i.file for i in metamodel.validate_app(tmp_path).issues] == ["notes.json"]


def test_issue_str_names_file_path_message_and_suggestion():
    issue = MetadataIssue("entities/opportunity.json", "/fields/3/type", "'currancy' is not a field type",
                          "did you mean 'currency'?")
    assert str(issue) == ("entities/opportunity.json /fields/3/type: "
                          "'currancy' is not a field type; did you mean 'currency'?")


def test_metadata_error_message_lists_every_issue():
    error = MetadataError([MetadataIssue("a.json", "/x", "bad"), MetadataIssue("b.json", "", "worse")])
    assert "2 problems" in str(error) and "a.json /x: bad" in str(error) and "b.json /: worse" in str(error)


def test_malformed_json_issue_names_line_and_column(tmp_path):
    (tmp_path / "app.json").write_text('{\n  "name": "x",\n  "version" "1.0.0"\n}')
    issue = metamodel.validate_app(tmp_path).issues[0]
    assert (issue.file, issue.line, issue.column) == ("app.json", 3, 13)
    assert str(issue).startswith("app.json:3:13: invalid JSON")


def test_documents_stored_as_json_text_reload(small_app_path, read_folder):
    documents = {k: json.loads(json.dumps(v)) for k, v in read_folder(small_app_path).items()}
    assert metamodel.app_from_documents(documents).version == "1.2.0"
