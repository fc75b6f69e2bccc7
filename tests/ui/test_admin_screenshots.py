"""The admin pages in a real Chromium: screenshots of each into test-artifacts/ for a person to look at."""
from __future__ import annotations

import pytest

from engine.security.org import create_department, department_id
from engine.security.users import create_user
from engine.storage.db import write_transaction

pytestmark = pytest.mark.browser


def test_screenshots_of_the_admin_pages(page, ui_runtime, make, unique, artifacts):
    with write_transaction(ui_runtime.engine) as conn:
        create_department(conn, f"Sales {unique}")
        create_department(conn, f"North {unique}", parent=f"Sales {unique}")
        north = department_id(conn, f"North {unique}")
        owner = create_user(conn, f"shot_{unique}", display_name="Li Lei", roles=["sales_rep"],
                            department_id=north).id
    record = make("account", name=f"Screenshot Ltd {unique}", owner_id=owner)
    shots = {"admin-users": "/admin/users", "admin-role-matrix": "/admin/roles/sales_rep",
             "admin-departments": "/admin/departments", "admin-audit": "/admin/audit",
             "admin-access": f"/admin/access?user=shot_{unique}&entity=account&id={record['id']}",
             "admin-user-new": "/admin/users/new"}
    for name, path in shots.items():
        page.goto(page.base + path)
        assert page.locator("h1").first.is_visible()
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=name not in ("admin-role-matrix", "admin-audit"))
    page.locator("button:has-text('中文')").first.click()
    page.goto(page.base + "/admin/roles/sales_rep")
    page.screenshot(path=str(artifacts / "admin-role-matrix-zh.png"))
    page.locator("button:has-text('English')").first.click()
