"""Labels from metadata are text, never markup: an entity and a field labelled `<b>bold</b>` render
escaped on the list, record and form pages (and in the admin pages that list them)."""
from __future__ import annotations

import pytest

from tests.engine.engine_apps import build_app, entity_doc
from tests.ui.conftest import login

MARKUP = "<b>bold</b>"
ESCAPED = "&lt;b&gt;bold&lt;/b&gt;"
PASSWORD = "escape-password-1"


@pytest.fixture(scope="module")
def escaping_app(tmp_path_factory):
    from engine.apps import install_app
    from engine.runtime import Runtime
    from engine.security.users import create_user
    from engine.storage.db import write_transaction
    from ui import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('escape') / 'escape.db'}"
    runtime = Runtime(url)
    runtime.migrate()
    gadget = entity_doc("gadget", [{"name": "name", "type": "text", "label": {"en": f"{MARKUP} name"}},
                                   {"name": "note", "type": "text", "label": {"en": f"Note {MARKUP}"}}],
                        label={"en": f"Gadget {MARKUP}"}, plural_label={"en": f"Gadgets {MARKUP}"})
    install_app(runtime, build_app(gadget))
    with write_transaction(runtime.engine) as conn:
        create_user(conn, "boss", password=PASSWORD, is_admin=True)
    record = runtime.records().create("gadget", {"name": "Widget", "note": "n"})
    runtime.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "escape", "WTF_CSRF_ENABLED": False,
                      "INSTANCE_PATH": str(tmp_path_factory.mktemp("escape-instance"))})
    client = app.test_client()
    assert login(client, "boss", PASSWORD).status_code == 302
    yield client, record["id"]
    app.extensions["formwork.runtime"].dispose()


@pytest.mark.parametrize("path", ["/app/gadget", "/app/gadget/{id}", "/app/gadget/{id}/edit", "/app/gadget/new",
                                  "/admin/", "/admin/audit?entity=gadget"])
def test_a_label_with_markup_renders_escaped(escaping_app, path):
    client, record_id = escaping_app
    response = client.get(path.format(id=record_id))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert MARKUP not in html and ESCAPED in html
