"""Installing, upgrading and exporting app folders."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from engine_apps import ACCOUNT, build_app
from engine_apps import CRM_FOLDER as CRM

from engine.apps import export_app, install_app, installed_apps, plan_app
from engine.runtime import Runtime


def read_folder(folder):
    return {str(p.relative_to(folder)): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(folder.rglob("*.json"))}


def test_default_crm_installs_every_entity(runtime):
    install_app(runtime, CRM)
    registry = runtime.registry()
    assert {"account", "contact", "lead", "opportunity", "product", "quote", "quote_line", "contract",
            "payment", "ticket", "activity", "task", "campaign"} <= set(registry.entities)
    assert installed_apps(runtime) == {"crm_default": "1.0.0"}


def test_default_crm_installs_its_seed_products(runtime):
    install_app(runtime, CRM)
    assert runtime.query().count("product") > 0


def test_opportunity_stage_holds_the_default_pipeline_in_order(runtime):
    install_app(runtime, CRM)
    stage = runtime.registry().entity("opportunity").field("stage")
    assert [v["label"]["zh"] for v in stage.option("values")] == ["初步接触", "需求确认", "方案演示", "报价协商",
                                                                   "成交", "丢单"]


def test_exported_app_reinstalled_into_an_empty_database_exports_identically(runtime, second_database_url,
                                                                            tmp_path):
    install_app(runtime, CRM)
    export_app(runtime, "crm_default", tmp_path / "first")
    other = Runtime(second_database_url)
    other.migrate()
    install_app(other, tmp_path / "first")
    export_app(other, "crm_default", tmp_path / "second")
    other.dispose()
    assert read_folder(tmp_path / "first") == read_folder(tmp_path / "second")


def test_export_matches_the_source_folder(runtime, tmp_path):
    install_app(runtime, CRM)
    export_app(runtime, "crm_default", tmp_path / "out")
    exported = read_folder(tmp_path / "out")
    source = read_folder(CRM)
    assert exported == source


def test_plan_of_an_installed_version_has_no_steps(runtime):
    install_app(runtime, build_app(ACCOUNT))
    assert plan_app(runtime, build_app(ACCOUNT, version="1.0.1")).plan.is_empty


def test_install_whose_seed_is_refused_leaves_nothing_behind(runtime):
    from engine_apps import app_documents

    from engine.errors import ValidationError
    from metamodel import app_from_documents

    documents = app_documents(ACCOUNT)
    documents["seed/account.json"] = [{"name": "A", "code": "X"}, {"name": "B", "code": "X"}]
    with pytest.raises(ValidationError):
        install_app(runtime, app_from_documents(documents))
    assert installed_apps(runtime) == {}
    assert "account" not in sa.inspect(runtime.engine).get_table_names()
