"""`formwork worker`: refuses a database that needs migrating, like serve; `--once` sweeps and says what it did."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from ui.cli import main


@pytest.fixture
def cli(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("FORMWORK_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("FORMWORK_DATABASE_URL", database_url)
    monkeypatch.delenv("FORMWORK_SMTP_URL", raising=False)
    monkeypatch.delenv("FORMWORK_REDIS_URL", raising=False)
    return lambda *args: CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_worker_refuses_a_database_with_pending_migrations_in_one_line(cli, monkeypatch):
    from engine.storage import migrate

    assert cli("init").exit_code == 0
    head = migrate.known_revisions()
    monkeypatch.setattr(migrate, "known_revisions", lambda: [*head, "9999"])
    result = cli("worker")
    assert result.exit_code == 1
    assert result.output.startswith("Error: the database at ") and "run `formwork migrate`" in result.output
    assert len(result.output.splitlines()) == 1


def test_worker_refuses_a_folder_that_was_never_initialised(cli, tmp_path):
    result = cli("worker")
    assert result.exit_code == 1 and "run `formwork init`" in result.output
    assert not (tmp_path / "instance").exists()


def test_worker_once_runs_one_sweep_and_reports_it(cli):
    assert cli("init").exit_code == 0
    result = cli("worker", "--once")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("outbox: 0 sent, 0 held") and "timers: 0 fired" in result.output
