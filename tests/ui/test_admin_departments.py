"""The department tree: indented, adding, moving (loops refused with the engine's message), heads."""
from __future__ import annotations

import re

from engine.security.org import create_department, department_id
from engine.security.users import create_user
from engine.storage.db import write_transaction


def make_tree(runtime, unique: str) -> dict[str, int]:
    with write_transaction(runtime.engine) as conn:
        create_department(conn, f"Top {unique}")
        create_department(conn, f"Mid {unique}", parent=f"Top {unique}")
        create_department(conn, f"Leaf {unique}", parent=f"Mid {unique}")
        return {n: department_id(conn, f"{n} {unique}") for n in ("Top", "Mid", "Leaf")}


def depth_of(html: str, name: str) -> int:
    row = re.search(rf'data-depth="(\d+)">(?:(?!</tr>).)*?>{re.escape(name)}</a>', html, re.S)
    return int(row.group(1))


def test_the_tree_indents_children_under_their_parent(client, ui_runtime, unique):
    make_tree(ui_runtime, unique)
    html = client.get("/admin/departments").get_data(as_text=True)
    assert [depth_of(html, f"{n} {unique}") for n in ("Top", "Mid", "Leaf")] == [0, 1, 2]
    assert html.index(f"Top {unique}") < html.index(f"Mid {unique}") < html.index(f"Leaf {unique}")


def test_adding_a_department_under_a_parent(client, ui_runtime, unique):
    ids = make_tree(ui_runtime, unique)
    client.post("/admin/departments", data={"new-name": f"New {unique}", "new-parent": ids["Leaf"]})
    assert depth_of(client.get("/admin/departments").get_data(as_text=True), f"New {unique}") == 3


def test_moving_a_department_under_its_own_child_is_refused_with_the_engines_message(client, ui_runtime, unique):
    ids = make_tree(ui_runtime, unique)
    response = client.post(f"/admin/departments/{ids['Top']}", data={"move-parent": ids["Leaf"]})
    assert response.status_code == 422
    assert "a department cannot be moved under itself" in response.get_data(as_text=True)
    assert depth_of(client.get("/admin/departments").get_data(as_text=True), f"Top {unique}") == 0


def test_moving_a_department_to_the_top_level(client, ui_runtime, unique):
    ids = make_tree(ui_runtime, unique)
    client.post(f"/admin/departments/{ids['Leaf']}", data={"move-parent": ""})
    assert depth_of(client.get("/admin/departments").get_data(as_text=True), f"Leaf {unique}") == 0


def test_setting_the_head_and_counting_members(client, ui_runtime, unique):
    ids = make_tree(ui_runtime, unique)
    with write_transaction(ui_runtime.engine) as conn:
        head = create_user(conn, f"head_{unique}", display_name=f"Head {unique}", department_id=ids["Mid"]).id
    client.post(f"/admin/departments/{ids['Mid']}", data={"head-head": head})
    row = re.search(rf'>Mid {unique}</a></span></td>\s*<td>([^<]*) <span[^>]*>([^<]*)</span></td>\s*'
                    r'<td class="text-end">(\d+)<', client.get("/admin/departments").get_data(as_text=True))
    assert row.groups() == (f"Head {unique}", f"head_{unique}", "1")     # the head by name, then username
