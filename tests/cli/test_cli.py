"""The `formwork` command line, through click's CliRunner: exit codes and what it prints."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ui.cli import main

CRM = Path(__file__).resolve().parents[2] / "apps" / "crm_default"


@pytest.fixture
def cli(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("FORMWORK_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("FORMWORK_DATABASE_URL", database_url)
    monkeypatch.delenv("FORMWORK_ADMIN_PASSWORD", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def initialised(cli):
    result = cli("init")
    assert result.exit_code == 0, result.output
    return cli


def copy_app(tmp_path) -> Path:
    folder = tmp_path / "app"
    shutil.copytree(CRM, folder)
    return folder


def edit_entity(folder: Path, name: str, change) -> None:
    path = folder / "entities" / f"{name}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")


def bump_version(folder: Path, version: str) -> None:
    path = folder / "app.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["version"] = version
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")


def test_validate_prints_a_summary_for_a_valid_app(cli):
    result = cli("app", "validate", str(CRM))
    assert result.exit_code == 0
    assert result.output.startswith("crm_default 1.0.0: valid")


def test_validate_prints_every_error_with_its_path_and_exits_1(cli, tmp_path):
    folder = copy_app(tmp_path)
    edit_entity(folder, "opportunity", lambda d: d["fields"][3].update(type="currancy"))
    edit_entity(folder, "contact", lambda d: d["fields"][1].update(target="acount"))
    (folder / "entities" / "task.json").write_text('{"name": "task",\n  "fields": [,]}', encoding="utf-8")
    result = cli("app", "validate", str(folder))
    assert result.exit_code == 1
    assert "entities/opportunity.json /fields/3/type: 'currancy' is not a field type; did you mean 'currency'?" \
        in result.output
    assert "entities/contact.json /fields/1/target" in result.output
    assert "entities/task.json:2" in result.output


def test_validate_warns_of_a_formula_field_reading_a_field_a_role_hides_and_exits_0(cli, tmp_path):
    folder = copy_app(tmp_path)
    edit_entity(folder, "contract", lambda d: d["fields"].append({
        "name": "terms_length", "type": "formula", "label": "Terms length", "expression": "LEN(payment_terms)",
        "returns": "number"}))
    result = cli("app", "validate", str(folder))
    assert result.exit_code == 0, result.output
    assert "warning: terms_length reads contract.payment_terms, which role 'sales_manager' hides" in result.output
    assert "which role 'sales_rep' hides" in result.output
    assert result.output.rstrip().endswith("flows, 2 warning(s)")


def test_init_creates_admin_and_prints_the_generated_password_once(cli):
    first = cli("init")
    assert "Administrator login: username admin, password " in first.output
    second = cli("init")
    assert "Already initialised" in second.output
    assert "password" not in second.output


def test_init_takes_the_admin_password_from_the_environment(cli, monkeypatch, database_url):
    monkeypatch.setenv("FORMWORK_ADMIN_PASSWORD", "correct horse battery")
    result = cli("init")
    assert "FORMWORK_ADMIN_PASSWORD" in result.output
    assert "correct horse battery" not in result.output


def test_init_refuses_a_common_admin_password_in_one_line_before_installing(cli, monkeypatch):
    monkeypatch.setenv("FORMWORK_ADMIN_PASSWORD", "qwertyuiop")
    result = cli("init")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: FORMWORK_ADMIN_PASSWORD is refused: that password is on the list of commonly used passwords; "
        "choose a less common one")
    assert "Installed" not in result.output and "Initialised" not in result.output
    monkeypatch.setenv("FORMWORK_ADMIN_PASSWORD", "correct horse battery")
    assert cli("init").exit_code == 0   # nothing was half-installed


def test_plan_lists_the_steps_of_an_upgrade(initialised, tmp_path):
    folder = copy_app(tmp_path)
    bump_version(folder, "1.1.0")
    edit_entity(folder, "account", lambda d: d["fields"].append(
        {"name": "wechat", "type": "text", "label": {"en": "WeChat", "zh": "微信"}}))
    result = initialised("app", "plan", str(folder))
    assert result.exit_code == 0
    assert "Upgrade crm_default 1.0.0 -> 1.1.0" in result.output
    assert "add field account.wechat (text)" in result.output


def test_plan_prints_a_refused_step_and_the_records_a_constraint_breaks_then_exits_1(initialised, tmp_path):
    folder = copy_app(tmp_path)
    bump_version(folder, "1.1.0")
    shutil.rmtree(folder / "seed")   # installed already; its codes would fail the new length itself
    edit_entity(folder, "product", lambda d: d["fields"][1].update(max_length=5))
    edit_entity(folder, "product", lambda d: d["fields"][0].update(label={"en": "Product", "zh": "产品"}))
    result = initialised("app", "plan", str(folder))
    assert result.exit_code == 1
    assert "change the storage of field product.code (text) — 14 rows would not convert [refused]" in result.output
    assert "- field product.code: max length 50 -> 5 — 14 existing records break it: " in result.output
    assert "- field product.name: label 'Product name' -> 'Product'" in result.output
    assert "step(s) would lose data" in result.output


def test_upgrade_asks_before_applying_and_a_no_changes_nothing(initialised, tmp_path):
    folder = copy_app(tmp_path)
    bump_version(folder, "1.1.0")
    result = initialised("app", "upgrade", str(folder), input="n\n")
    assert result.exit_code == 1
    assert "cancelled" in result.output
    assert "1.0.0 -> 1.1.0" in initialised("app", "plan", str(folder)).output


def test_upgrade_with_yes_applies_the_plan(initialised, tmp_path):
    folder = copy_app(tmp_path)
    bump_version(folder, "1.1.0")
    edit_entity(folder, "account", lambda d: d["fields"].append(
        {"name": "wechat", "type": "text", "label": {"en": "WeChat", "zh": "微信"}}))
    result = initialised("app", "upgrade", str(folder), "--yes")
    assert result.exit_code == 0, result.output
    assert "Upgraded crm_default to 1.1.0" in result.output
    assert "No schema changes." in initialised("app", "plan", str(folder)).output


def test_export_writes_a_folder_that_validates(initialised, tmp_path):
    result = initialised("app", "export", "crm_default", str(tmp_path / "out"))
    assert result.exit_code == 0
    assert initialised("app", "validate", str(tmp_path / "out")).exit_code == 0


def test_demo_creates_the_requested_number_of_records(initialised):
    result = initialised("demo", "--records", "300", "--seed", "7")
    assert result.exit_code == 0, result.output
    assert "Created 300 records" in result.output


def test_install_of_a_missing_folder_fails_with_one_line(initialised, tmp_path):
    result = initialised("app", "install", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.fixture
def whole(tmp_path, whole_database_url, monkeypatch):
    """An initialised installation on a database of its own, as pg_dump backs up a whole database."""
    monkeypatch.setenv("FORMWORK_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("FORMWORK_DATABASE_URL", whole_database_url)
    monkeypatch.delenv("FORMWORK_ADMIN_PASSWORD", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    assert invoke("init").exit_code == 0
    return invoke


@pytest.fixture
def backed_up(whole, tmp_path):
    target = tmp_path / "formwork.backup"
    assert whole("backup", str(target)).exit_code == 0
    return target


def test_backup_and_restore_round_trip(whole, tmp_path):
    assert whole("demo", "--records", "50", "--seed", "1").exit_code == 0
    target = tmp_path / "copy.backup"
    assert whole("backup", str(target)).exit_code == 0
    result = whole("restore", str(target), "--yes")
    assert result.exit_code == 0, result.output
    assert "Restored from" in result.output


def test_restore_of_an_older_revision_says_to_run_migrate(whole, backed_up, monkeypatch):
    from engine.storage import migrate

    head = migrate.known_revisions()
    monkeypatch.setattr(migrate, "known_revisions", lambda: [*head, "9999"])
    result = whole("restore", str(backed_up), "--yes")
    assert result.exit_code == 0, result.output
    assert "run `formwork migrate`" in result.output


def test_backup_verify_prints_a_summary_of_a_good_backup(whole, backed_up):
    result = whole("backup", "--verify", str(backed_up))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"{backed_up}: OK"
    assert "created at:" in result.output and "schema revision:" in result.output
    assert "tables:" in result.output and "rows:" in result.output


def test_backup_verify_of_a_truncated_backup_fails_with_one_line(whole, backed_up):
    backed_up.write_bytes(backed_up.read_bytes()[:1000])
    result = whole("backup", "--verify", str(backed_up))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {backed_up} is truncated or damaged: "
                                                  "the end of the file is missing; restore from another backup"]


def test_restore_of_a_file_that_is_not_a_backup_fails_with_one_line(whole, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_text("not a backup", encoding="utf-8")
    result = whole("restore", str(source), "--yes")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "is not a Formwork backup" in result.output


def test_formula_check_prints_the_type_and_the_fields_it_reads(initialised):
    result = initialised("formula", "check", "opportunity", "amount * probability > 1000 && account.name != ''")
    assert result.exit_code == 0
    assert result.output.strip() == "boolean (reads account.name, amount, probability)"


def test_formula_check_points_at_the_error_with_a_caret(initialised):
    result = initialised("formula", "check", "opportunity", "amont + 1")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "Did you mean amount?" in lines[0] and "(line 1, column 1)" in lines[0]
    assert lines[1:] == ["  amont + 1", "  ^"]


def test_formula_check_of_an_unknown_entity_names_the_installed_ones(initialised):
    result = initialised("formula", "check", "spaceship", "1")
    assert result.exit_code == 1
    assert "there is no entity 'spaceship'" in result.output


def test_demo_before_init_says_to_run_init(cli):
    result = cli("demo", "--records", "10")
    assert result.exit_code == 1
    assert "run `formwork init`" in result.output
    assert len(result.output.splitlines()) == 1


def test_audit_purge_keeps_entries_within_the_retention(initialised, monkeypatch):
    monkeypatch.setenv("FORMWORK_AUDIT_RETENTION_DAYS", "30")
    result = initialised("audit", "purge")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Removed 0 audit entries older than 30 days"
