"""The `user` and `dept` commands, run through click's CliRunner against a test database."""
from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from engine.apps import install_app
from engine.config import prepare_instance
from ui.cli_admin import register


def mini_crm():
    """A one-entity app with the default CRM's sales roles."""
    from metamodel import app_from_documents

    return app_from_documents({
        "app.json": {"name": "mini_crm", "version": "1.0.0", "label": "Mini CRM", "roles": [
            {"name": "sales_rep", "label": "Sales rep", "permissions": {"account": "own"}},
            {"name": "sales_manager", "label": "Sales manager", "permissions": {"account": "department"}}]},
        "entities/account.json": {"name": "account", "label": "Account", "plural_label": "Accounts",
                                  "fields": [{"name": "name", "type": "text", "label": "Name"}]},
    })


@pytest.fixture
def cli(runtime, database_url, tmp_path, monkeypatch):
    """Returns invoke(*args, input=None) running the admin commands on the test database."""
    install_app(runtime, mini_crm())
    monkeypatch.setenv("FORMWORK_DATABASE_URL", database_url)
    monkeypatch.setenv("FORMWORK_INSTANCE", str(tmp_path / "instance"))
    prepare_instance()   # as `formwork init` leaves it: the commands refuse a folder that is not an instance
    group = click.Group("formwork")
    register(group)

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(group, list(args), input=input)

    return invoke


def test_user_add_prints_a_generated_password_once(cli):
    result = cli("user", "add", "amy", "--role", "sales_rep", "--email", "amy@example.com")
    assert result.exit_code == 0, result.output
    assert "Created user amy" in result.output and "Password (shown once):" in result.output


def test_user_add_reads_the_password_from_stdin(cli):
    result = cli("user", "add", "amy", "--password-stdin", input="long enough password\n")
    assert result.exit_code == 0 and "Password" not in result.output.split("\n", 1)[1]


def test_user_add_refuses_a_weak_password(cli):
    result = cli("user", "add", "amy", "--password-stdin", input="123\n")
    assert result.exit_code == 1 and "at least 10" in result.output


def test_user_password_refuses_a_common_password(cli):
    cli("user", "add", "amy", "--password-stdin", input="long enough password\n")
    result = cli("user", "password", "amy", input="password123\n")
    assert result.exit_code == 1 and "commonly used" in result.output


def test_user_add_refuses_an_unknown_role(cli):
    result = cli("user", "add", "amy", "--role", "wizard")
    assert result.exit_code == 1 and "no role 'wizard'" in result.output


def test_user_add_places_the_user_in_a_department_under_a_manager(cli):
    cli("dept", "add", "North")
    cli("user", "add", "nina", "--role", "sales_manager", "--department", "North")
    cli("user", "add", "amy", "--role", "sales_rep", "--department", "North", "--manager", "nina")
    listed = cli("user", "list").output
    assert any(line.split()[:4] == ["amy", "sales_rep", "North", "nina"] for line in listed.splitlines())


def test_dept_add_and_list_show_the_tree_with_heads(cli):
    cli("user", "add", "nina")
    assert cli("dept", "add", "Sales").exit_code == 0
    assert cli("dept", "add", "North", "--parent", "Sales", "--head", "nina").exit_code == 0
    lines = cli("dept", "list").output.splitlines()
    assert lines[0].startswith("Sales ") and lines[1].startswith("Sales / North") and "nina" in lines[1]


def test_dept_add_refuses_an_unknown_parent(cli):
    result = cli("dept", "add", "North", "--parent", "Nowhere")
    assert result.exit_code == 1 and "no department 'Nowhere'" in result.output


def test_user_deactivate_hides_the_user_from_the_default_list(cli):
    cli("user", "add", "amy")
    assert cli("user", "deactivate", "amy").exit_code == 0
    assert "amy" not in cli("user", "list").output
    assert "inactive" in cli("user", "list", "--all").output


def test_user_reassign_moves_the_records(cli, runtime):
    cli("user", "add", "amy")
    cli("user", "add", "ben")
    from engine.security.users import user_id
    from engine.storage.db import write_transaction

    with write_transaction(runtime.engine) as conn:
        amy = user_id(conn, "amy")
    runtime.records().bulk_create("account", [{"name": "A", "owner_id": amy}, {"name": "B", "owner_id": amy}])
    result = cli("user", "reassign", "amy", "ben")
    assert result.exit_code == 0 and "Moved 2 records from amy to ben: 2 account" in result.output


def test_user_password_sets_a_new_password(cli):
    cli("user", "add", "amy")
    result = cli("user", "password", "amy", input="a brand new password\n")
    assert result.exit_code == 0 and "Password of amy changed" in result.output
