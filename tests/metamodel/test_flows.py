"""Flow documents: each kind's schema, the meaning checks of what they name, and their typed form."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import metamodel
from metamodel.flows import ApprovalDef, Assignee, AutomationDef, PipelineDef

CRM = Path(__file__).resolve().parents[2] / "apps" / "crm_default"
_CRM_DOCUMENTS = {p.relative_to(CRM).as_posix(): json.loads(p.read_text(encoding="utf-8"))
                  for p in sorted(CRM.rglob("*.json"))}


@pytest.fixture
def crm() -> dict:
    """A fresh copy of the default CRM's documents, for a test to break one thing in."""
    return copy.deepcopy(_CRM_DOCUMENTS)


def issues(documents) -> list[str]:
    return [str(i) for i in metamodel.validate_documents(documents).issues]


def only_issue(documents) -> str:
    found = issues(documents)
    assert len(found) == 1, found
    return found[0]


def flow(documents, name: str) -> dict:
    return documents[f"flows/{name}.json"]


def pipeline(documents) -> dict:
    return flow(documents, "opportunity_pipeline")


def quote_approval(documents) -> dict:
    return flow(documents, "quote_discount_approval")


def step(documents, name: str) -> dict:
    return next(s for s in quote_approval(documents)["steps"] if s["name"] == name)


# -- the shipped app ------------------------------------------------------------------------
def test_default_crm_flows_validate_without_issues(crm):
    assert issues(crm) == []


def test_default_crm_flows_load_as_typed_definitions():
    app = metamodel.load_app(CRM)
    definitions = app.flow_definitions
    assert isinstance(definitions["opportunity_pipeline"], PipelineDef)
    assert isinstance(definitions["quote_discount_approval"], ApprovalDef)
    assert isinstance(definitions["lead_intake"], AutomationDef)
    assert set(definitions) == set(app.flows)


def test_pipeline_definition_answers_stage_rules():
    pipeline_def = metamodel.load_app(CRM).flow_definitions["opportunity_pipeline"]
    negotiation = pipeline_def.stage("negotiation")
    assert negotiation.stall.after.days == 15
    assert [p.kind for p in negotiation.stall.notify] == ["person", "manager_of"]
    assert pipeline_def.stage("lost").required_fields == ("lost_reason",)
    assert pipeline_def.may_leave_backward("demo") and not pipeline_def.may_leave_backward("won")


def test_approval_definition_keeps_branches_and_reject_targets():
    approval = metamodel.load_app(CRM).flow_definitions["quote_discount_approval"]
    finance = approval.steps[approval.step_index("finance")]
    assert [(b.when, b.go_to) for b in finance.next] == [("discount > 0.4", "executive"), (None, "end")]
    assert approval.steps[2].reject_to.step == "finance"


def test_assign_by_region_maps_each_value_to_a_round_robin_pool():
    assign = metamodel.load_app(CRM).flow_definitions["lead_intake"].actions[1]
    assert assign.by == "region"
    assert assign.map["east_china"] == Assignee("department", "sales_east_china")
    assert assign.otherwise == Assignee("role", "sales_rep")


# -- schemas --------------------------------------------------------------------------------
def test_pipeline_schema_reports_unknown_stage_key_with_suggestion(crm):
    pipeline(crm)["stages"][0]["probabilty"] = 10
    assert only_issue(crm) == ("flows/opportunity_pipeline.json /stages/0/probabilty: 'probabilty' is not "
                               "a known key here; did you mean 'probability'?")


def test_pipeline_schema_requires_stage_probability(crm):
    del pipeline(crm)["stages"][1]["probability"]
    assert only_issue(crm) == "flows/opportunity_pipeline.json /stages/1: 'probability' is required"


def test_approval_schema_rejects_unknown_mode_listing_the_modes(crm):
    step(crm, "manager")["mode"] = "everyone"
    assert only_issue(crm) == ("flows/quote_discount_approval.json /steps/0/mode: 'everyone' is not a step "
                               "mode; use one of: any, all, n_of_m, sequence")


def test_approval_schema_needs_required_approvals_for_n_of_m(crm):
    step(crm, "manager")["mode"] = "n_of_m"
    assert only_issue(crm) == "flows/quote_discount_approval.json /steps/0: 'required_approvals' is required"


def test_approver_with_two_kinds_is_told_to_give_exactly_one(crm):
    step(crm, "finance")["approvers"][0]["user"] = "li.lei"
    assert only_issue(crm) == (
        "flows/quote_discount_approval.json /steps/1/approvers/0: give exactly one of person, manager_of, role, "
        "user, department_head_of, department_head, chosen_by_submitter (it has role, user)")


def test_automation_schema_needs_fields_for_a_field_changed_trigger(crm):
    del flow(crm, "account_vip_welcome")["trigger"]["fields"]
    assert only_issue(crm) == "flows/account_vip_welcome.json /trigger: 'fields' is required"


def test_action_schema_reports_unknown_key_of_its_type(crm):
    flow(crm, "ticket_sla_escalation")["actions"][0]["sett"] = {}
    assert "flows/ticket_sla_escalation.json /actions/0/sett: 'sett' is not a known key here; " \
           "did you mean 'set'?" in issues(crm)


def test_schedule_trigger_needs_a_five_field_cron(crm):
    flow(crm, "contract_to_erp")["trigger"] = {"on": "schedule", "cron": "0 9 * *"}
    assert only_issue(crm) == ("flows/contract_to_erp.json /trigger/cron: '0 9 * *' is not a cron expression "
                               "of five fields (minute hour day month weekday)")


# -- pipelines ------------------------------------------------------------------------------
def test_pipeline_stage_field_must_be_a_picklist(crm):
    for name in ("opportunity_pipeline", "services_pipeline"):
        flow(crm, name)["stage_field"] = "lead_source" if name == "services_pipeline" else "name"
    assert issues(crm)[0] == ("flows/opportunity_pipeline.json /stage_field: the stage field 'name' must be "
                              "a picklist; a pipeline has one stage per picklist value")


def test_pipeline_stage_must_be_a_value_of_the_stage_field(crm):
    pipeline(crm)["stages"][3]["value"] = "negociation"
    assert only_issue(crm) == ("flows/opportunity_pipeline.json /stages/3/value: 'negociation' is not a value "
                               "of opportunity.stage; did you mean 'negotiation'?")


def test_pipeline_required_field_must_exist(crm):
    pipeline(crm)["stages"][5]["required_fields"] = ["lost_reasn"]
    assert only_issue(crm) == ("flows/opportunity_pipeline.json /stages/5/required_fields/0: entity "
                               "'opportunity' has no field 'lost_reasn'; did you mean 'lost_reason'?")


def test_pipeline_gate_must_be_boolean(crm):
    pipeline(crm)["stages"][4]["gate"]["condition"] = "amount"
    assert only_issue(crm).startswith("flows/opportunity_pipeline.json /stages/4/gate/condition: Formula result "
                                      "is data type (Currency), incompatible with expected data type (Boolean)")


def test_pipelines_of_one_entity_need_different_priorities(crm):
    flow(crm, "services_pipeline")["priority"] = 100
    assert only_issue(crm) == (
        "flows/services_pipeline.json /priority: flows/opportunity_pipeline.json has the same priority (100) "
        "for 'opportunity', so which one applies is not defined; give each a different priority")


def test_stall_alert_person_must_be_a_user_field(crm):
    pipeline(crm)["stages"][3]["stall"]["notify"][0] = {"person": "account"}
    assert only_issue(crm) == ("flows/opportunity_pipeline.json /stages/3/stall/notify/0/person: "
                               "opportunity.account is lookup, not a user field")


# -- approvals ------------------------------------------------------------------------------
def test_approver_role_must_exist_in_the_app(crm):
    step(crm, "finance")["approvers"][0]["role"] = "financ"
    assert only_issue(crm) == ("flows/quote_discount_approval.json /steps/1/approvers/0/role: there is no role "
                               "'financ' in app.json; did you mean 'finance'?")


def test_submitter_is_only_known_to_approvals(crm):
    pipeline(crm)["stages"][3]["stall"]["notify"][1] = {"manager_of": "submitter"}
    assert only_issue(crm) == ("flows/opportunity_pipeline.json /stages/3/stall/notify/1/manager_of: "
                               "'submitter' is not owner or created_by or updated_by or a user field of "
                               "'opportunity'")


def test_branch_target_must_be_a_step(crm):
    step(crm, "finance")["next"][0]["go_to"] = "executiv"
    assert only_issue(crm) == ("flows/quote_discount_approval.json /steps/1/next/0/go_to: there is no step "
                               "'executiv'; did you mean 'executive'?")


def test_branch_cannot_go_back_to_an_earlier_step(crm):
    step(crm, "finance")["next"][1]["go_to"] = "manager"
    assert issues(crm)[0] == ("flows/quote_discount_approval.json /steps/1/next/1/go_to: a branch goes forward, "
                              "but 'manager' is not after 'finance'; to send a record back, reject it to that step")


def test_branch_without_condition_must_come_last(crm):
    step(crm, "finance")["next"].reverse()
    assert ("flows/quote_discount_approval.json /steps/1/next/0/go_to: this branch has no condition, so the "
            "branches after it are never taken; put the branch without 'when' last") in issues(crm)


def test_step_no_branch_reaches_is_reported(crm):
    step(crm, "finance")["next"] = [{"go_to": "end"}]
    assert only_issue(crm) == ("flows/quote_discount_approval.json /steps/2: step 'executive' is never reached; "
                               "branch to it from an earlier step, or remove it")


def test_reject_to_must_name_an_earlier_step(crm):
    step(crm, "manager")["reject_to"] = {"step": "finance"}
    assert only_issue(crm) == ("flows/quote_discount_approval.json /steps/0/reject_to/step: a rejection goes "
                               "back, but 'finance' is not before 'manager'; name an earlier step")


def test_reject_to_previous_on_the_first_step_is_reported(crm):
    step(crm, "manager")["reject_to"] = "previous"
    assert only_issue(crm) == ("flows/quote_discount_approval.json /steps/0/reject_to: the first step has no "
                               "previous step; reject to end or submitter")


def test_step_names_are_unique_and_end_is_reserved(crm):
    step(crm, "finance")["name"] = "manager"
    step(crm, "executive")["name"] = "end"
    texts = issues(crm)
    assert ("flows/quote_discount_approval.json /steps/1/name: 'manager' is used twice; step names must be "
            "unique") in texts
    assert ("flows/quote_discount_approval.json /steps/2/name: 'end' is reserved: a branch to it finishes the "
            "approval; rename the step") in texts


def test_editable_fields_must_be_fields_a_person_can_set(crm):
    step(crm, "finance")["editable_fields"] = ["net_total"]
    assert only_issue(crm) == ("flows/quote_discount_approval.json /steps/1/editable_fields/0: quote.net_total is "
                               "formula, so a flow cannot set it; set a stored field instead")


def test_skip_if_must_compile_against_the_entity(crm):
    step(crm, "executive")["skip_if"] = "discont < 0.4"
    assert only_issue(crm).startswith("flows/quote_discount_approval.json /steps/2/skip_if: ")


# -- automations and actions ----------------------------------------------------------------
def test_trigger_fields_must_exist(crm):
    flow(crm, "account_vip_welcome")["trigger"]["fields"] = ["grad"]
    assert only_issue(crm) == ("flows/account_vip_welcome.json /trigger/fields/0: entity 'account' has no field "
                               "'grad'; did you mean 'grade'?")


def test_date_trigger_needs_a_date_field(crm):
    flow(crm, "contract_renewal_task")["trigger"]["field"] = "amount"
    assert only_issue(crm).startswith("flows/contract_renewal_task.json /trigger/field: contract.amount is not a "
                                      "date or datetime field; use one of: start_date, end_date")


def test_update_action_cannot_set_a_computed_field(crm):
    flow(crm, "ticket_sla_escalation")["actions"][0]["set"] = {"sla_breached": "TRUE"}
    assert only_issue(crm) == ("flows/ticket_sla_escalation.json /actions/0/set/sla_breached: "
                               "ticket.sla_breached is formula, so a flow cannot set it; set a stored field instead")


def test_update_action_value_must_fit_the_field(crm):
    flow(crm, "ticket_sla_escalation")["actions"][0]["set"] = {"priority": "TODAY()"}
    assert only_issue(crm) == ("flows/ticket_sla_escalation.json /actions/0/set/priority: the formula gives "
                               "date, but picklist or text is needed")


def test_update_action_on_must_be_a_lookup(crm):
    flow(crm, "ticket_sla_escalation")["actions"][0]["on"] = "subject"
    assert only_issue(crm) == ("flows/ticket_sla_escalation.json /actions/0/on: ticket.subject is not a lookup; "
                               "name a lookup or master_detail field: its record is updated")


def test_create_action_names_an_existing_entity(crm):
    flow(crm, "contract_renewal_task")["actions"][0]["entity"] = "tasks"
    assert only_issue(crm) == ("flows/contract_renewal_task.json /actions/0/entity: there is no entity 'tasks'; "
                               "did you mean 'task'?")


def test_create_action_names_fields_of_the_new_record(crm):
    flow(crm, "contract_renewal_task")["actions"][0]["set"]["asignee"] = "owner.id"
    assert ("flows/contract_renewal_task.json /actions/0/set/asignee: entity 'task' has no field 'asignee'; "
            "did you mean 'assignee'?") in issues(crm)


def test_create_action_must_set_the_new_records_required_fields(crm):
    del flow(crm, "contract_renewal_task")["actions"][0]["set"]["due_at"]
    assert only_issue(crm) == ("flows/contract_renewal_task.json /actions/0/set: task.due_at is required, so the "
                               "new record needs it; add \"due_at\" to set")


def test_assign_map_keys_are_values_of_the_by_field(crm):
    action = flow(crm, "lead_intake")["actions"][1]
    action["map"]["east_chna"] = action["map"].pop("east_china")
    assert only_issue(crm) == ("flows/lead_intake.json /actions/1/map/east_chna: 'east_chna' is not a value of "
                               "lead.region; did you mean 'east_china'?")


def test_assign_round_robin_role_must_exist(crm):
    flow(crm, "lead_intake")["actions"][1]["otherwise"] = {"round_robin": {"role": "sales_reps"}}
    assert only_issue(crm) == ("flows/lead_intake.json /actions/1/otherwise/round_robin/role: there is no role "
                               "'sales_reps' in app.json; did you mean 'sales_rep'?")


def test_email_field_recipient_must_be_an_email_field(crm):
    flow(crm, "account_vip_welcome")["actions"][0]["to"] = [{"email_field": "phone"}]
    assert only_issue(crm) == ("flows/account_vip_welcome.json /actions/0/to/0/email_field: 'phone' is phone, "
                               "not an email field")


def test_start_approval_names_an_approval_of_the_same_entity(crm):
    flow(crm, "contract_to_erp")["actions"] = [{"type": "start_approval", "flow": "quote_discount_approval"},
                                               {"type": "start_approval", "flow": "contract_aproval"}]
    assert issues(crm) == [
        "flows/contract_to_erp.json /actions/0/flow: approval 'quote_discount_approval' is for 'quote', "
        "not 'contract'",
        "flows/contract_to_erp.json /actions/1/flow: there is no approval flow 'contract_aproval'; "
        "did you mean 'contract_approval'?",
    ]


def test_automation_condition_must_be_boolean(crm):
    flow(crm, "contract_renewal_task")["condition"] = "TEXT(status)"
    assert only_issue(crm).startswith("flows/contract_renewal_task.json /condition: Formula result is data type "
                                      "(Text), incompatible with expected data type (Boolean)")


def test_every_flow_problem_is_reported_at_once(crm):
    pipeline(crm)["stages"][3]["value"] = "negociation"
    step(crm, "finance")["approvers"][0]["role"] = "financ"
    flow(crm, "account_vip_welcome")["trigger"]["fields"] = ["grad"]
    assert len(issues(crm)) == 3
