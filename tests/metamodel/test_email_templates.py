"""Email templates: app metadata loaded with the app, validated with file, JSON path and line."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import metamodel
from metamodel.email_templates import email_template_from
from ui.cli import main

CRM = Path(__file__).resolve().parents[2] / "apps" / "crm_default"
_CRM_DOCUMENTS = {p.relative_to(CRM).as_posix(): json.loads(p.read_text(encoding="utf-8"))
                  for p in sorted(CRM.rglob("*.json"))}


@pytest.fixture
def crm() -> dict:
    return copy.deepcopy(_CRM_DOCUMENTS)


def issues(documents) -> list[str]:
    return [str(i) for i in metamodel.validate_documents(documents).issues]


def test_the_crm_ships_every_template_its_flows_name(crm):
    app = metamodel.app_from_documents(crm)
    assert {"vip_welcome", "contract_approved", "ticket_sla_breached"} <= set(app.email_templates)
    welcome = email_template_from(app.email_templates["vip_welcome"])
    assert welcome.entity == "account" and "{{ name }}" in welcome.text("subject", "zh")


def test_templates_survive_the_round_trip_through_the_stored_documents(crm):
    app = metamodel.app_from_documents(crm)
    again = metamodel.app_from_documents(metamodel.app_to_documents(app))
    assert again.email_templates == app.email_templates


def test_an_email_action_naming_a_missing_template_is_an_error_at_its_path(crm):
    del crm["email_templates/vip_welcome.json"]
    [issue] = issues(crm)
    assert issue.startswith("flows/account_vip_welcome.json /actions/0/template: there is no email template "
                            "'vip_welcome'")


def test_a_template_that_does_not_parse_is_an_error_with_its_line(crm):
    crm["email_templates/vip_welcome.json"]["body"]["zh"] = "尊敬的{{ name }}：\n\n{% if phone %}电话 {{ phone }}\n"
    [issue] = issues(crm)
    assert issue.startswith("email_templates/vip_welcome.json /body/zh: the template does not parse: line 3:")


def test_a_template_naming_a_field_its_entity_lacks_is_an_error_with_a_suggestion(crm):
    crm["email_templates/vip_welcome.json"]["subject"]["en"] = "Welcome, {{ nmae }}"
    [issue] = issues(crm)
    assert "email_templates/vip_welcome.json /subject/en: entity 'account' has no field 'nmae'" in issue
    assert "name" in issue.split(";")[1]


def test_a_template_for_another_entity_is_refused_on_the_action(crm):
    crm["email_templates/vip_welcome.json"]["entity"] = "contract"
    crm["email_templates/vip_welcome.json"]["subject"] = "Welcome"
    crm["email_templates/vip_welcome.json"]["body"] = "Hello"
    [issue] = issues(crm)
    assert "written for 'contract', not for 'account'" in issue


def test_app_validate_prints_the_template_problem_and_fails(tmp_path, crm):
    crm["email_templates/ticket_sla_breached.json"]["subject"]["en"] = "{{ number "
    for relative, document in crm.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["app", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "email_templates/ticket_sla_breached.json /subject/en: the template does not parse: line 1:" in result.output
