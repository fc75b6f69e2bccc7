"""Lead conversion in the default CRM: the mapped records in one transaction, likely accounts, the lock after."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.apps import install_app
from engine.data.conversion import (
    ALREADY_CONVERTED,
    ConversionChoice,
    ConversionRefused,
    company_core,
    conversion_refusal,
    convert_lead,
    likely_accounts,
    mapped_values,
)
from engine.data.conversion_rules import CONVERTED_READ_ONLY
from engine.errors import NotFound, PermissionDenied, ValidationError
from engine.security.audit import record_history
from engine.security.users import actor_by_name, create_user
from engine.storage.db import fw_audit, write_transaction

CRM = Path(__file__).resolve().parents[3] / "apps" / "crm_default"
NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)
OPPORTUNITY = {"name": "云帆 CRM 一期", "amount": "250000", "close_date": "2027-01-31"}


@pytest.fixture
def crm(runtime):
    """The default CRM with a sales rep `rita`, another rep `sam` and a marketer `mia`, at a fixed time."""
    install_app(runtime, CRM)
    with write_transaction(runtime.engine) as conn:
        create_user(conn, "rita", display_name="Rita", roles=["sales_rep"])
        create_user(conn, "sam", display_name="Sam", roles=["sales_rep"])
        create_user(conn, "mia", display_name="Mia", roles=["marketing"])
    runtime.clock = lambda: NOW
    return runtime


def actor(runtime, username: str):
    with runtime.engine.connect() as conn:
        return actor_by_name(conn, username)


def lead_of(runtime, username: str, **values) -> int:
    """A qualified lead owned by `username`, with the values given."""
    owner = actor(runtime, username)
    fields = {"name": "张伟", "company": "北京云帆科技股份有限公司", "title": "IT 总监", "phone": "138 1234 5678",
              "email": "zhangwei@yunfan-tech.cn", "status": "qualified", "source": "exhibition",
              "industry": "software", "region": "north_china", "owner_id": owner.id, **values}
    return runtime.records().create("lead", fields)["id"]


def count(runtime, entity: str) -> int:
    table = runtime.registry().table(entity)
    with runtime.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def convert(runtime, username: str, lead_id: int, choice: ConversionChoice | None = None):
    return convert_lead(runtime.records(actor(runtime, username)), "lead", lead_id,
                        choice or ConversionChoice(opportunity=OPPORTUNITY))


def test_conversion_creates_exactly_the_mapped_account_contact_and_opportunity(crm):
    lead_id = lead_of(crm, "rita")
    before = {e: count(crm, e) for e in ("account", "contact", "opportunity")}
    result = convert(crm, "rita", lead_id)
    assert {e: count(crm, e) - before[e] for e in before} == {"account": 1, "contact": 1, "opportunity": 1}
    query = crm.query()
    account = query.get("account", result.account_id)
    assert (account["name"], account["industry"], account["region"], account["source"], account["phone"]) == (
        "北京云帆科技股份有限公司", "software", "north_china", "exhibition", "138 1234 5678")
    contact = query.get("contact", result.contact_id)
    assert (contact["name"], contact["title"], contact["mobile"], contact["email"], contact["account"]) == (
        "张伟", "IT 总监", "138 1234 5678", "zhangwei@yunfan-tech.cn", result.account_id)
    opportunity = query.get("opportunity", result.opportunity_id)
    assert (opportunity["name"], opportunity["amount"], opportunity["close_date"], opportunity["account"],
            opportunity["primary_contact"], opportunity["lead_source"]) == (
        "云帆 CRM 一期", Decimal("250000"), dt.date(2027, 1, 31), result.account_id, result.contact_id, "exhibition")
    rita = actor(crm, "rita").id
    assert {account["owner_id"], contact["owner_id"], opportunity["owner_id"]} == {rita}


def test_converted_lead_is_marked_with_its_status_links_and_time(crm):
    lead_id = lead_of(crm, "rita")
    result = convert(crm, "rita", lead_id)
    lead = crm.query().get("lead", lead_id)
    assert (lead["status"], lead["converted_account"], lead["converted_contact"], lead["converted_opportunity"],
            lead["converted_at"]) == ("converted", result.account_id, result.contact_id, result.opportunity_id, NOW)


def test_opportunity_is_made_only_when_asked(crm):
    lead_id = lead_of(crm, "rita")
    before = count(crm, "opportunity")
    result = convert(crm, "rita", lead_id, ConversionChoice())
    assert result.opportunity_id is None and count(crm, "opportunity") == before
    assert crm.query().get("lead", lead_id)["converted_opportunity"] is None


def test_values_typed_in_the_dialog_win_over_the_mapping(crm):
    lead_id = lead_of(crm, "rita")
    result = convert(crm, "rita", lead_id, ConversionChoice(account={"name": "云帆科技"}, contact={"title": "CIO"}))
    assert crm.query().get("account", result.account_id)["name"] == "云帆科技"
    assert crm.query().get("contact", result.contact_id)["title"] == "CIO"


def test_mapping_formula_names_the_account_after_the_person_without_a_company(crm):
    lead_id = lead_of(crm, "rita", company=None)
    result = convert(crm, "rita", lead_id, ConversionChoice())
    assert crm.query().get("account", result.account_id)["name"] == "张伟"


def test_mapped_close_date_is_a_month_from_now(crm):
    lead_id = lead_of(crm, "rita")
    registry = crm.registry()
    lead = registry.entity("lead")
    with crm.engine.connect() as conn:
        values = mapped_values(conn, registry, lead, crm.query().get("lead", lead_id), lead.conversion.opportunity,
                               NOW)
    assert values["close_date"] == dt.date(2027, 1, 1)


def test_conversion_attaches_to_the_chosen_existing_account(crm):
    rita = actor(crm, "rita")
    existing = crm.records(rita).create("account", {"name": "云帆科技"})["id"]
    lead_id = lead_of(crm, "rita")
    before = count(crm, "account")
    result = convert(crm, "rita", lead_id, ConversionChoice(account_id=existing, opportunity=OPPORTUNITY))
    assert (result.account_id, result.account_created, count(crm, "account")) == (existing, False, before)
    assert crm.query().get("contact", result.contact_id)["account"] == existing
    assert crm.query().get("opportunity", result.opportunity_id)["account"] == existing
    assert crm.query().get("lead", lead_id)["converted_account"] == existing


def test_attaching_to_an_account_the_rep_cannot_read_is_refused_as_missing(crm):
    theirs = crm.records(actor(crm, "sam")).create("account", {"name": "云帆科技"})["id"]
    lead_id = lead_of(crm, "rita")
    with pytest.raises(ConversionRefused) as refused:
        convert(crm, "rita", lead_id, ConversionChoice(account_id=theirs))
    assert refused.value.part == "account"
    assert str(refused.value.errors[0].message) == f"there is no account with id {theirs}"


def test_a_failing_third_write_leaves_nothing_written(crm):
    lead_id = lead_of(crm, "rita")
    before = {e: count(crm, e) for e in ("account", "contact", "opportunity")}
    with crm.engine.connect() as conn:
        audit_before = conn.execute(sa.select(sa.func.count()).select_from(fw_audit)).scalar_one()
    with pytest.raises(ConversionRefused) as refused:
        convert(crm, "rita", lead_id, ConversionChoice(opportunity={**OPPORTUNITY, "close_date": ""}))
    assert refused.value.part == "opportunity"
    assert refused.value.by_field() == {"close_date": ["is required"]}
    assert {e: count(crm, e) for e in before} == before
    lead = crm.query().get("lead", lead_id)
    assert (lead["status"], lead["converted_at"], lead["converted_account"]) == ("qualified", None, None)
    with crm.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fw_audit)).scalar_one() == audit_before


def test_refused_contact_names_its_part_and_field(crm):
    lead_id = lead_of(crm, "rita")
    with pytest.raises(ConversionRefused) as refused:
        convert(crm, "rita", lead_id, ConversionChoice(contact={"email": "not an address"}))
    assert refused.value.part == "contact" and list(refused.value.by_field()) == ["email"]


def test_lead_already_converted_cannot_be_converted_again(crm):
    lead_id = lead_of(crm, "rita")
    convert(crm, "rita", lead_id)
    accounts = count(crm, "account")
    with pytest.raises(ValidationError) as refused:
        convert(crm, "rita", lead_id)
    assert refused.value.by_field() == {None: [ALREADY_CONVERTED]}
    assert count(crm, "account") == accounts


def test_disqualified_lead_cannot_be_converted(crm):
    lead_id = lead_of(crm, "rita", status="disqualified", disqualified_reason="no budget")
    with pytest.raises(ValidationError) as refused:
        convert(crm, "rita", lead_id)
    assert list(refused.value.by_field()) == ["status"]


def test_converted_lead_is_read_only_to_people(crm):
    lead_id = lead_of(crm, "rita")
    convert(crm, "rita", lead_id)
    for username in ("rita",):
        with pytest.raises(ValidationError) as refused:
            crm.records(actor(crm, username)).update("lead", lead_id, {"title": "CTO"})
        assert refused.value.by_field() == {None: [CONVERTED_READ_ONLY]}
    assert crm.query().get("lead", lead_id)["title"] == "IT 总监"


def test_system_may_still_write_a_converted_lead(crm):
    lead_id = lead_of(crm, "rita")
    convert(crm, "rita", lead_id)
    assert crm.records().update("lead", lead_id, {"score": 90})["score"] == 90


def test_a_person_cannot_mark_a_lead_converted_by_hand(crm):
    lead_id = lead_of(crm, "rita")
    with pytest.raises(ValidationError) as refused:
        crm.records(actor(crm, "rita")).update("lead", lead_id, {"status": "converted"})
    assert list(refused.value.by_field()) == ["status"]


def test_conversion_is_audited_as_the_rep(crm):
    lead_id = lead_of(crm, "rita")
    result = convert(crm, "rita", lead_id)
    rita = actor(crm, "rita").id
    with crm.engine.connect() as conn:
        converted = [e for e in record_history(conn, "lead", lead_id) if e.action == "convert"]
        created = record_history(conn, "opportunity", result.opportunity_id)
    assert [(e.actor_id, dict(e.detail)) for e in converted] == [(rita, {
        "account": result.account_id, "account_created": True, "contact": result.contact_id,
        "opportunity": result.opportunity_id})]
    assert [(e.actor_id, e.action) for e in created] == [(rita, "create")]


def test_marketer_who_may_not_create_accounts_is_refused_and_nothing_is_written(crm):
    lead_id = lead_of(crm, "mia")
    before = count(crm, "account")
    with pytest.raises(PermissionDenied) as refused:
        convert(crm, "mia", lead_id, ConversionChoice())
    assert str(refused.value) == "you may not create “Account” records"
    assert count(crm, "account") == before
    assert crm.query().get("lead", lead_id)["converted_at"] is None


def test_marketer_is_told_why_before_converting(crm):
    lead_id = lead_of(crm, "mia")
    records = crm.records(actor(crm, "mia"))
    assert conversion_refusal(records, crm.registry().entity("lead"), crm.query().get("lead", lead_id)) == (
        "you may not create “Contact” records")


def test_rep_may_not_convert_a_colleagues_lead(crm):
    lead_id = lead_of(crm, "sam")
    with pytest.raises(NotFound):
        convert(crm, "rita", lead_id)


# -- likely accounts -----------------------------------------------------------------------------------
def matches(runtime, username: str, **values):
    conversion = runtime.registry().entity("lead").conversion
    return likely_accounts(runtime.query(actor(runtime, username)), conversion, values)


def test_company_core_ignores_legal_suffixes_places_and_width():
    assert company_core("A科技股份有限公司") == company_core("A科技") == "a科技"
    assert company_core("北京云帆科技有限公司") == company_core("云帆科技（北京）有限公司") == "云帆科技"
    assert company_core("Acme Co., Ltd.") == company_core("ACME") == "acme"


def test_likely_accounts_find_the_short_name_for_the_full_legal_name(crm):
    rita = actor(crm, "rita")
    short = crm.records(rita).create("account", {"name": "A科技"})["id"]
    crm.records(rita).create("account", {"name": "B物流集团"})
    found = matches(crm, "rita", name="A科技股份有限公司")
    assert [(m.id, [r.kind for r in m.reasons]) for m in found] == [(short, ["name"])]
    assert found[0].score == 100


def test_likely_accounts_find_an_account_by_phone_in_another_format(crm):
    rita = actor(crm, "rita")
    same_line = crm.records(rita).create("account", {"name": "远航贸易", "phone": "+86 010-8888 1234"})["id"]
    found = matches(crm, "rita", name="完全不同的公司", phone="010 88881234")
    assert [(m.id, [(r.kind, r.value) for r in m.reasons]) for m in found] == [
        (same_line, [("phone", "+86 010-8888 1234")])]


def test_likely_accounts_find_a_company_email_domain_but_not_a_free_mail_one(crm):
    rita = actor(crm, "rita")
    company = crm.records(rita).create("account", {"name": "星河软件", "email": "info@xinghe-soft.com"})["id"]
    crm.records(rita).create("account", {"name": "个人客户", "email": "someone@qq.com"})
    assert [(m.id, m.reasons[0].kind) for m in matches(crm, "rita", email="li@xinghe-soft.com")] == [
        (company, "email_domain")]
    assert matches(crm, "rita", email="another@qq.com") == []


def test_likely_accounts_rank_several_reasons_first(crm):
    rita = actor(crm, "rita")
    by_name = crm.records(rita).create("account", {"name": "云帆科技"})["id"]
    by_both = crm.records(rita).create("account", {"name": "云帆科技有限公司", "phone": "13812345678"})["id"]
    found = matches(crm, "rita", name="北京云帆科技股份有限公司", phone="138 1234 5678")
    assert [m.id for m in found] == [by_both, by_name]


def test_likely_accounts_offer_only_accounts_the_rep_may_read(crm):
    crm.records(actor(crm, "sam")).create("account", {"name": "A科技"})
    assert matches(crm, "rita", name="A科技股份有限公司") == []


def test_colleague_a_lead_is_shared_with_for_edit_may_convert_it(crm):
    from engine.security.sharing import share_record

    lead_id = lead_of(crm, "sam")
    rita = actor(crm, "rita")
    with write_transaction(crm.engine) as conn:
        share_record(conn, crm.registry(), actor(crm, "sam"), "lead", lead_id, rita.id, "edit")
    records = crm.records(rita)
    assert conversion_refusal(records, crm.registry().entity("lead"), crm.query(rita).get("lead", lead_id)) is None
    result = convert(crm, "rita", lead_id)
    assert crm.query().get("lead", lead_id)["converted_contact"] == result.contact_id


@pytest.fixture
def marketer_who_may_make_accounts(crm):
    """Marketing may create accounts and contacts, but still only read opportunities."""
    from engine.security.actors import SYSTEM
    from engine.security.permissions import set_grant
    from metamodel.model import EntityGrant

    with write_transaction(crm.engine) as conn:
        for entity in ("account", "contact"):
            set_grant(conn, SYSTEM, "marketing", entity, EntityGrant(create="own", read="all", update="own"))
    return crm


def test_rep_who_may_not_create_opportunities_is_refused_one_and_nothing_is_written(marketer_who_may_make_accounts):
    crm = marketer_who_may_make_accounts
    lead_id = lead_of(crm, "mia")
    before = {e: count(crm, e) for e in ("account", "contact", "opportunity")}
    with pytest.raises(PermissionDenied) as refused:
        convert(crm, "mia", lead_id)
    assert str(refused.value) == "you may not create “Opportunity” records"
    assert {e: count(crm, e) for e in before} == before


def test_rep_who_may_not_create_opportunities_converts_without_one(marketer_who_may_make_accounts):
    crm = marketer_who_may_make_accounts
    lead_id = lead_of(crm, "mia")
    result = convert(crm, "mia", lead_id, ConversionChoice())
    assert result.opportunity_id is None and crm.query().get("lead", lead_id)["status"] == "converted"
