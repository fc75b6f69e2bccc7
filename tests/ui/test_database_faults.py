"""The web app when its database fails under it: a clear 503, never a 500 or a new empty database."""
from __future__ import annotations

import pytest

from engine.runtime import Runtime
from ui import create_app


@pytest.fixture
def served_file(tmp_path):
    path = tmp_path / "served.db"
    rt = Runtime(f"sqlite:///{path}")
    rt.migrate()
    rt.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "test",
                      "INSTANCE_PATH": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": False})
    return app, path


def test_a_sign_in_after_the_database_file_was_deleted_answers_503_and_makes_no_file(served_file):
    app, path = served_file
    client = app.test_client()
    assert client.post("/login", data={"username": "nobody", "password": "x" * 12}).status_code == 401
    for leftover in path.parent.glob("served.db*"):
        leftover.unlink()
    response = client.post("/login", data={"username": "nobody", "password": "x" * 12})
    assert response.status_code == 503
    assert "The database is unavailable" in response.get_data(as_text=True)
    assert not path.exists()
