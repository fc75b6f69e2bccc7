"""A first start never fails: the served app comes up on a fresh instance every time, `serve` never
makes a database, and `migrate` says what it did. These start real gunicorn processes."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from databases import postgres_url_or_skip

from ui.cli import main

ROOT = Path(__file__).resolve().parents[2]
FORMWORK = Path(sys.executable).with_name("formwork")
STARTS = 10
BOOT_SECONDS = 300   # generous: on a loaded 2-core CI machine run.py's first start takes a while
ON_POSTGRESQL = bool(os.environ.get("FORMWORK_TEST_DATABASE_URL"))
sqlite_pass = pytest.mark.skipif(ON_POSTGRESQL, reason="a SQLite start; it runs in the suite's SQLite pass")
postgresql_pass = pytest.mark.skipif(not ON_POSTGRESQL, reason="runs in the suite's PostgreSQL pass")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(instance: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORMWORK_")}
    env.update(FORMWORK_INSTANCE=str(instance), FORMWORK_ADMIN_PASSWORD="first-start-pw-1", **extra)
    if database_url:
        env["FORMWORK_DATABASE_URL"] = database_url
    return env


def wait_for_login(process: subprocess.Popen, port: int) -> int | str:
    """Returns the status of GET /login once the server answers, or why it never did."""
    deadline = time.monotonic() + BOOT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"the server exited with {process.returncode} before answering"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=BOOT_SECONDS) as response:
                return response.status
        except OSError:
            time.sleep(0.2)
    return f"no answer on port {port} within {BOOT_SECONDS} s"


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)   # graceful: in-flight requests finish, nothing is logged as failed
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve_once(env: dict[str, str], command: list[str]) -> tuple[int, str]:
    """Starts the server, asks for /login, stops it; returns the status and everything it printed."""
    port = free_port()
    log_path = Path(env["FORMWORK_INSTANCE"]).with_name(Path(env["FORMWORK_INSTANCE"]).name + ".log")
    with log_path.open("w") as log_file:   # a file, not a pipe nobody reads while the server runs
        process = subprocess.Popen([*command, "--port", str(port)] if command[0] == str(FORMWORK) else command,
                                   env={**env, "FORMWORK_PORT": str(port)}, cwd=env["FORMWORK_INSTANCE"],
                                   stdout=log_file, stderr=subprocess.STDOUT, text=True)
        try:
            status = wait_for_login(process, port)
        finally:
            stop(process)
    log = log_path.read_text()
    if isinstance(status, str):
        pytest.fail(f"{status}; the server's log:\n{log}")
    return status, log


def init(env: dict[str, str]) -> None:
    result = subprocess.run([str(FORMWORK), "init"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


@sqlite_pass
def test_serve_with_four_workers_comes_up_on_every_fresh_sqlite_instance(tmp_path):
    template = tmp_path / "template"
    init(environment(template))
    for start in range(STARTS):
        instance = tmp_path / f"start-{start}"
        shutil.copytree(template, instance)
        status, log = serve_once(environment(instance), [str(FORMWORK), "serve", "--workers", "4"])
        assert status == 200
        assert "Traceback" not in log, log


@postgresql_pass
def test_serve_with_four_workers_comes_up_on_every_fresh_postgresql_database(tmp_path):
    base = sa.engine.make_url(postgres_url_or_skip())
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    template = f"fw_start_{uuid.uuid4().hex[:8]}"
    names = [template]
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{template}"')
        init(environment(tmp_path / "template", base.set(database=template).render_as_string(False)))
        for start in range(STARTS):
            name = f"{template}_{start}"
            names.append(name)
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            instance = tmp_path / f"start-{start}"
            shutil.copytree(tmp_path / "template", instance)   # the instance init prepared: its secret key
            env = environment(instance, base.set(database=name).render_as_string(False))
            status, log = serve_once(env, [str(FORMWORK), "serve", "--workers", "4"])
            assert status == 200
            assert "Traceback" not in log, log
    finally:
        with admin.connect() as conn:
            for name in reversed(names):
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@sqlite_pass
def test_run_py_comes_up_on_every_fresh_folder(tmp_path):
    for start in range(STARTS):
        instance = tmp_path / f"run-{start}"
        instance.mkdir()
        env = environment(instance, FORMWORK_DEMO_RECORDS="20")
        status, log = serve_once(env, [sys.executable, str(ROOT / "run.py")])
        assert status == 200
        assert "Traceback" not in log, log


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("FORMWORK_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("FORMWORK_DATABASE_URL", raising=False)
    return lambda *args: CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_serve_on_a_never_initialised_folder_refuses_and_makes_nothing(cli, tmp_path):
    result = cli("serve", "--port", str(free_port()))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no Formwork instance at {tmp_path / 'instance'}")
    assert "run `formwork init`" in result.output
    assert len(result.output.splitlines()) == 1
    assert not (tmp_path / "instance").exists()


@pytest.mark.parametrize("command", [("app", "plan", str(ROOT / "apps" / "crm_default")), ("user", "list"),
                                     ("demo", "--records", "5"), ("backup", "x.backup")])
def test_commands_other_than_init_refuse_a_missing_instance_and_make_nothing(cli, tmp_path, command):
    result = cli(*command)
    assert result.exit_code == 1
    assert "no Formwork instance at" in result.output
    assert not (tmp_path / "instance").exists()


def test_serve_on_an_initialised_folder_whose_database_file_is_gone_refuses(cli, tmp_path):
    assert cli("init").exit_code == 0
    (tmp_path / "instance" / "formwork.db").unlink()
    result = cli("serve", "--port", str(free_port()))
    assert result.exit_code == 1
    assert "the file is missing" in result.output
    assert not (tmp_path / "instance" / "formwork.db").exists()


def test_migrate_reports_each_step_then_that_the_database_is_up_to_date(cli):
    first = cli("migrate")
    assert first.exit_code == 0, first.output
    assert first.output.startswith("Migrated to 0001: System tables as Formwork 0.1 created them")
    again = cli("migrate")
    assert again.output.strip() == "The database is up to date."


def test_an_instance_folder_that_cannot_be_made_fails_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("FORMWORK_INSTANCE", str(tmp_path / "file-not-folder" / "instance"))
    (tmp_path / "file-not-folder").write_text("a file where the instance folder should be")
    result = CliRunner().invoke(main, ["init"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot create the instance folder ")
    assert len(result.output.splitlines()) == 1


def test_a_database_path_that_cannot_be_opened_fails_with_one_line(cli, tmp_path, monkeypatch):
    folder_in_the_way = tmp_path / "formwork.db"
    folder_in_the_way.mkdir()
    monkeypatch.setenv("FORMWORK_DATABASE_URL", f"sqlite:///{folder_in_the_way}")
    result = cli("init")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: the database at sqlite:///{folder_in_the_way} cannot be used: ")
    assert len(result.output.splitlines()) == 1
