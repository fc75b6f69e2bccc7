"""Fixtures of the web UI tests: one database per session with the default CRM, apps and clients.

Tests share the database, so each one makes the records it looks at (with unique names).
"""
from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path

import pytest
from databases import running_in_ci, scratch_database

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "admin-password-1"
REP_PASSWORD = "rep-password-1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = ROOT / "test-artifacts"
# Browser tests wait for conditions, never for a page to be fast: a loaded 2-core CI machine can
# take many seconds for what takes milliseconds on a quiet one.
BROWSER_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def ui_database_url(tmp_path_factory):
    """A database for the whole session: SQLite, or a fresh PostgreSQL schema."""
    yield from scratch_database(tmp_path_factory.mktemp("ui-db"), "ui.db", "ui")


@pytest.fixture(scope="session")
def ui_runtime(ui_database_url):
    """The runtime of the session database: the default CRM, `admin`, a sales rep `rep`, the sales rep
    `intake_rep` new leads go to, a little data."""
    from engine.apps import install_app
    from engine.demo import generate_demo
    from engine.runtime import Runtime
    from engine.security.users import create_user
    from engine.storage.db import write_transaction

    rt = Runtime(ui_database_url)
    rt.migrate()
    install_app(rt, ROOT / "apps" / "crm_default")
    with write_transaction(rt.engine) as conn:
        create_user(conn, "admin", password=ADMIN_PASSWORD, display_name="Administrator", is_admin=True)
        create_user(conn, "rep", password=REP_PASSWORD, display_name="Rita Rep")
        # The default CRM's lead intake assigns every new lead round the sales reps: it needs one.
        create_user(conn, "intake_rep", display_name="Ian Intake", roles=["sales_rep"])
    generate_demo(rt, 150, seed=7)
    yield rt
    rt.dispose()


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("instance"))


def _app(ui_database_url: str, instance_path: str, **extra):
    from ui import create_app

    return create_app({"TESTING": True, "DATABASE_URL": ui_database_url, "SECRET_KEY": "test-secret",
                       "INSTANCE_PATH": instance_path, **extra})


@pytest.fixture(scope="session")
def app(ui_runtime, ui_database_url, instance_path):
    """The app without CSRF checks, for tests about everything else."""
    return _app(ui_database_url, instance_path, WTF_CSRF_ENABLED=False)


@pytest.fixture(scope="session")
def csrf_app(ui_runtime, ui_database_url, instance_path):
    """The app as deployed: CSRF protection on."""
    return _app(ui_database_url, instance_path)


def login(client, username: str = "admin", password: str = ADMIN_PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def client(app):
    """A test client logged in as the administrator."""
    c = app.test_client()
    assert login(c).status_code == 302
    return c


@pytest.fixture
def rep_client(app):
    c = app.test_client()
    assert login(c, "rep", REP_PASSWORD).status_code == 302
    return c


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


# -- a real server and a real browser, for the browser tests ---------------------------------------
@pytest.fixture(scope="session")
def live_server(ui_runtime, ui_database_url, instance_path):
    """Serves the app (CSRF on) from a thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, _app(ui_database_url, instance_path, TESTING=False), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the session; missing Chromium skips, except under CI=true where it fails."""
    if not Path(CHROMIUM).exists():
        if running_in_ci():
            pytest.fail(f"Chromium is required under CI=true at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield found
        found.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def admin_actor(ui_runtime):
    import sqlalchemy as sa

    from engine.security.users import actor_for
    from engine.storage.db import fw_user

    with ui_runtime.engine.connect() as conn:
        user_id = conn.execute(sa.select(fw_user.c.id).where(fw_user.c.username == "admin")).scalar_one()
        return actor_for(conn, user_id)


@pytest.fixture
def make(ui_runtime, admin_actor):
    """Creates a record as the administrator: make("account", name=...) -> the stored record."""
    def create(entity: str, **values):
        return ui_runtime.records(admin_actor).create(entity, values)
    return create


@pytest.fixture(scope="session")
def admin_password() -> str:
    return ADMIN_PASSWORD


@pytest.fixture
def page(browser, live_server, admin_password):
    """A Chromium page logged in as admin on the live server; `page.base` is the server's URL."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    page.goto(f"{live_server}/login")
    page.fill("#username", "admin")
    page.fill("#password", admin_password)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/app/"))
    page.base = live_server
    yield page
    context.close()
