"""An entity's `conversion`: its schema, the meaning checks of every field it names, its typed form."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import metamodel

CRM = Path(__file__).resolve().parents[2] / "apps" / "crm_default"
_CRM_DOCUMENTS = {p.relative_to(CRM).as_posix(): json.loads(p.read_text(encoding="utf-8"))
                  for p in sorted(CRM.rglob("*.json"))}
LEAD = "entities/lead.json"


@pytest.fixture
def crm() -> dict:
    """A fresh copy of the default CRM's documents, for a test to break one thing in."""
    return copy.deepcopy(_CRM_DOCUMENTS)


def conversion(documents) -> dict:
    return documents[LEAD]["conversion"]


def only_issue(documents) -> str:
    found = [str(i) for i in metamodel.validate_documents(documents).issues]
    assert len(found) == 1, found
    return found[0]


def test_default_crm_lead_conversion_loads_as_a_typed_definition(crm):
    lead = metamodel.app_from_documents(crm).entity("lead")
    assert lead.conversion.status_value == "converted"
    assert lead.conversion.account.match == ("name", "phone", "email")
    assert [role for role, _ in lead.conversion.parts] == ["account", "contact", "opportunity"]
    assert lead.conversion.opportunity.form_fields == ("name", "amount", "close_date")


def test_conversion_exports_as_written(crm):
    exported = metamodel.app_to_documents(metamodel.app_from_documents(crm))
    assert exported[LEAD]["conversion"] == crm[LEAD]["conversion"]


def test_unknown_key_in_a_conversion_part_is_named_with_its_path(crm):
    conversion(crm)["contact"]["matches"] = ["name"]
    assert only_issue(crm) == "entities/lead.json /conversion/contact/matches: 'matches' is not a known key here"


def test_mapped_field_missing_from_the_target_entity_is_reported_with_a_suggestion(crm):
    conversion(crm)["account"]["set"]["phon"] = "phone"
    assert only_issue(crm) == ("entities/lead.json /conversion/account/set/phon: entity 'account' has no field "
                               "'phon'; did you mean 'phone'?")


def test_mapping_formula_over_an_unknown_lead_field_is_reported(crm):
    conversion(crm)["contact"]["set"]["title"] = "UPPER(job_title)"
    assert only_issue(crm).startswith("entities/lead.json /conversion/contact/set/title: ")


def test_copied_field_of_another_type_is_refused(crm):
    conversion(crm)["opportunity"]["set"]["amount"] = "company"
    assert only_issue(crm) == ("entities/lead.json /conversion/opportunity/set/amount: opportunity.amount is "
                               "currency, but company is text; map a field of a fitting type, or write a formula")


def test_formula_giving_the_wrong_type_is_refused(crm):
    conversion(crm)["opportunity"]["set"]["close_date"] = "score + 1"
    assert only_issue(crm) == ("entities/lead.json /conversion/opportunity/set/close_date: the formula gives "
                               "number, but date is needed")


def test_link_that_is_not_a_lookup_to_the_part_entity_is_refused(crm):
    conversion(crm)["contact"]["link"] = "converted_account"
    assert only_issue(crm) == ("entities/lead.json /conversion/contact/link: lead.converted_account is not a "
                               "lookup to 'contact'; name a lookup field of lead whose target is contact")


def test_status_value_must_be_a_value_of_the_status_picklist(crm):
    conversion(crm)["status"]["value"] = "won"
    assert only_issue(crm).startswith("entities/lead.json /conversion/status/value: 'won' is not a value of "
                                      "lead.status")


def test_required_field_without_a_value_is_reported(crm):
    del conversion(crm)["contact"]["set"]["name"]
    conversion(crm)["contact"]["form"].remove("name")
    assert only_issue(crm) == ("entities/lead.json /conversion/contact/set: contact.name is required, so the "
                               "conversion needs it; add \"name\" to set (a formula over the lead) or to form")


def test_match_field_must_be_a_text_phone_or_email_field_in_set(crm):
    conversion(crm)["account"]["match"] = ["name", "website"]
    assert only_issue(crm) == ("entities/lead.json /conversion/account/match/1: account.website is url; likely "
                               "accounts are matched on text, phone, email fields")


def test_picklist_copied_into_one_lacking_some_values_is_a_warning(crm):
    account = crm["entities/account.json"]
    source = next(f for f in account["fields"] if f["name"] == "source")
    source["values"] = [v for v in source["values"] if v["value"] != "partner"]
    report = metamodel.validate_documents(crm)
    assert report.ok
    assert [str(i) for i in report.warnings] == [
        "entities/lead.json /conversion/account/set/source: warning: lead.source values partner are not values "
        "of account.source; the conversion leaves it blank for such a record; add the values to the target "
        "picklist or map them with CASE()"]
