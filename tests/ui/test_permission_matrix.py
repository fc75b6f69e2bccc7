"""The permission matrix at the HTTP level: every default role of crm_default, every entity, every read
path of the UI. Records in scope appear; records out of scope and hidden fields' values never do, in
HTML, JSON or file bytes.

One database for the module: the org, one user per role and one record per (entity, owner), each
carrying a marker string in its title (or another text field) so absence is a substring check.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from databases import scratch_database

from tests.ui.conftest import login

ROOT = Path(__file__).resolve().parents[2]
APP_JSON = json.loads((ROOT / "apps/crm_default/app.json").read_text(encoding="utf-8"))
PASSWORD = "matrix-password-1"

DEPARTMENTS = (("hq", None), ("sales", "hq"), ("north", "sales"), ("east", "sales"),
               ("finance", "hq"), ("service", "hq"), ("marketing", "hq"))
PEOPLE = {   # username -> (department, roles)
    "rep_n1": ("north", ("sales_rep",)), "rep_n2": ("north", ("sales_rep",)), "rep_e1": ("east", ("sales_rep",)),
    "mgr_n": ("north", ("sales_manager",)), "director": ("sales", ("sales_manager",)),
    "mkt": ("marketing", ("marketing",)), "svc": ("service", ("service_agent",)), "fin": ("finance", ("finance",)),
    "boss": ("hq", ("executive",)), "it": ("hq", ("admin",)), "nobody": (None, ()),
}
OWNERS = ("rep_n1", "rep_n2", "rep_e1", "svc")     # own, same department, sister department, elsewhere
VIEWERS = ("rep_n1", "mgr_n", "director", "mkt", "svc", "fin", "boss", "it", "nobody")
HUB_OWNER = "rep_n1"   # every child record points at this owner's account: related lists mix owners

# The text field carrying each entity's marker, and the values its required fields need.
MARKER_FIELD = {"payment": "invoice_number", "task": "subject", "activity": "subject", "ticket": "subject",
                "article": "title"}
REQUIRED = {
    "product": {"code": "MKP{n}", "unit_price": "100"},
    "campaign": {"channel": "email", "start_date": "2030-01-01"},
    "article": {"body": "How to"},
    "contact": {"mobile": "13800000000"},
    "lead": {"phone": "13800000000"},
    "opportunity": {"close_date": "2030-06-30"},
    "quote_line": {"unit_price": "10", "quantity": "1"},
    "contract": {"amount": "1000", "start_date": "2030-01-01", "end_date": "2030-12-31"},
    "payment": {"due_date": "2030-02-01", "amount": "500"},
    "activity": {"summary": "Talked"},
    "task": {"due_at": "2030-01-10T09:00:00+00:00"},
}
ORDER = ("account", "product", "campaign", "article", "contact", "lead", "opportunity", "quote", "quote_line",
         "contract", "payment", "ticket", "activity", "task")
# Values of hidden fields (contract.payment_terms for sales; account.annual_revenue and credit_code
# for marketing and service): written at creation and changed once, so the history holds both.
HIDDEN_VALUES = {("contract", "payment_terms"): ("HIDDENterms{n}A", "HIDDENterms{n}B"),
                 ("account", "credit_code"): ("91777000HXHXHX{n}HXA", "91777000HXHXHX{n}HXB"),
                 ("account", "annual_revenue"): ("987654321.77", "876543219.66")}
HIDDEN_TEXTS = {("contract", "payment_terms"): ["HIDDENterms"], ("account", "credit_code"): ["91777000HXHXHX"],
                ("account", "annual_revenue"): ["987654321", "987,654,321", "876543219", "876,543,219"]}


def marker(entity: str, owner: str) -> str:
    return f"MK{entity}{owner}Z"


# -- the oracle: what the matrix says each user may read ----------------------------------
def role_read_scope(role: str, entity: str) -> str:
    rules = next(r for r in APP_JSON["roles"] if r["name"] == role)["permissions"]
    grant = rules.get(entity, rules.get("*"))
    if grant is None:
        return "none"
    return grant if isinstance(grant, str) else grant.get("read", "none")


def subtree(department: str) -> set[str]:
    found = {department}
    while below := {d for d, parent in DEPARTMENTS if parent in found} - found:
        found |= below
    return found


# A detail entity's records are read through their master; in the world each owner's detail sits on
# that owner's master record.
MASTERS = {"quote_line": "quote"}


def readable_owners(viewer: str, entity: str) -> set[str]:
    if entity in MASTERS:
        return readable_owners(viewer, MASTERS[entity]) if _own_read_scope(viewer, entity) != "none" else set()
    department, roles = PEOPLE[viewer]
    scope = _own_read_scope(viewer, entity)
    departments = {"department": {department}, "department_and_below": subtree(department) if department else set()}
    if scope == "all":
        return set(OWNERS)
    if scope == "none":
        return set()
    return {o for o in OWNERS if o == viewer or PEOPLE[o][0] in departments.get(scope, set())}


def _own_read_scope(viewer: str, entity: str) -> str:
    order = ("none", "own", "department", "department_and_below", "all")
    return max((role_read_scope(r, entity) for r in PEOPLE[viewer][1]), key=order.index, default="none")


def hidden_from(viewer: str, entity: str) -> set[str]:
    roles = PEOPLE[viewer][1]
    readers = [r for r in roles if role_read_scope(r, entity) != "none"]
    limits = [{f for f, access in next(x for x in APP_JSON["roles"] if x["name"] == r)
               .get("field_access", {}).get(entity, {}).items() if access == "hidden"} for r in readers]
    return set.intersection(*limits) if limits else set()


# -- the database ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class World:
    ids: dict[tuple[str, str], int]      # (entity, owner) -> record id
    app: object
    columns: dict[str, str]              # entity -> every field, as a `cols` argument (hidden ones too)
    extras: dict[str, int]               # records across owners: details, assigned tasks (see build_extras)

    def visible(self, viewer: str, entity: str) -> dict[str, int]:
        return {o: self.ids[entity, o] for o in readable_owners(viewer, entity)}

    def invisible(self, viewer: str, entity: str) -> dict[str, int]:
        return {o: self.ids[entity, o] for o in OWNERS if o not in readable_owners(viewer, entity)}

    def forbidden(self, viewer: str) -> list[str]:
        """Every text that must never reach `viewer`: markers of records out of scope, hidden values."""
        texts = [marker(e, o) for e in ORDER for o in self.invisible(viewer, e)]
        for (entity, field), values in HIDDEN_TEXTS.items():
            if field in hidden_from(viewer, entity):
                texts += values
        return texts


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    yield from scratch_database(tmp_path_factory.mktemp("matrix"), "matrix.db", "matrix")


def build_people(runtime) -> dict[str, int]:
    from engine.security.org import create_department
    from engine.security.users import create_user
    from engine.storage.db import write_transaction

    with write_transaction(runtime.engine) as conn:
        departments = {}
        for name, parent in DEPARTMENTS:
            departments[name] = create_department(conn, name, parent=parent)
        return {name: create_user(conn, name, password=PASSWORD, roles=roles,
                                  department_id=departments.get(department)).id
                for name, (department, roles) in PEOPLE.items()}


def build_records(runtime, users: dict[str, int]) -> dict[tuple[str, str], int]:
    registry = runtime.registry()
    records = runtime.records()
    ids: dict[tuple[str, str], int] = {}
    for entity in ORDER:
        definition = registry.entity(entity)
        for owner in OWNERS:
            values = {MARKER_FIELD.get(entity, "name"): marker(entity, owner), "owner_id": users[owner],
                      **{k: v.format(n=OWNERS.index(owner)) for k, v in REQUIRED.get(entity, {}).items()}}
            values.update(_links(definition, owner, ids))
            values.update({f: v[0].format(n=OWNERS.index(owner)) for (e, f), v in HIDDEN_VALUES.items() if e == entity})
            ids[entity, owner] = records.create(entity, values)["id"]
    for (entity, field), (_first, second) in HIDDEN_VALUES.items():
        for owner in OWNERS:
            records.update(entity, ids[entity, owner], {field: second.format(n=OWNERS.index(owner))})
    return ids


def _links(definition, owner: str, ids: dict[tuple[str, str], int]) -> dict[str, int]:
    links = {}
    for f in definition.fields:
        target = f.option("target")
        if f.type not in ("lookup", "master_detail") or target == definition.name:
            continue
        if target == "account" and ("account", HUB_OWNER) in ids:
            links[f.name] = ids["account", HUB_OWNER]
        elif (target, owner) in ids and target in ("opportunity", "quote", "contract"):
            links[f.name] = ids[target, owner]
    return links


def build_extras(runtime, users: dict[str, int], ids: dict[tuple[str, str], int]) -> dict[str, int]:
    """Records whose access is not their owner's: lines added by someone other than the quote's
    owner, and a task a manager assigned to a rep. Their texts carry no marker."""
    records = runtime.records()

    def line(quote_owner: str, owner: str) -> int:
        return records.create("quote_line", {"quote": ids["quote", quote_owner], "name": f"Extra line {owner}",
                                             "quantity": "1", "unit_price": "10", "owner_id": users[owner]})["id"]

    return {"colleagues_line_on_own_quote": line("rep_n1", "rep_n2"),
            "own_line_on_colleagues_quote": line("rep_n2", "rep_n1"),
            "assigned_task": records.create("task", {"subject": "Handed down", "owner_id": users["mgr_n"],
                                                     "assignee": users["rep_n1"],
                                                     "due_at": "2030-01-10T09:00:00+00:00"})["id"]}


@pytest.fixture(scope="module")
def world(database_url, tmp_path_factory) -> World:
    from engine.apps import install_app
    from engine.runtime import Runtime
    from ui import create_app

    runtime = Runtime(database_url)
    runtime.migrate()
    install_app(runtime, ROOT / "apps" / "crm_default")
    users = build_people(runtime)
    ids = build_records(runtime, users)
    extras = build_extras(runtime, users, ids)
    columns = {name: ",".join(f.name for f in entity.fields) for name, entity in runtime.registry().entities.items()}
    runtime.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "matrix",
                      "INSTANCE_PATH": str(tmp_path_factory.mktemp("matrix-instance")), "WTF_CSRF_ENABLED": False})
    yield World(ids, app, columns, extras)
    app.extensions["formwork.runtime"].dispose()


@pytest.fixture(scope="module")
def clients(world):
    made = {}
    for viewer in VIEWERS:
        made[viewer] = world.app.test_client()
        assert login(made[viewer], viewer, PASSWORD).status_code == 302
    return made


# -- checking responses ----------------------------------------------------------------------------
def body_text(response) -> str:
    """The response as text: HTML and JSON as they are, an xlsx workbook as its cells' values."""
    if response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(response.data), read_only=True)
        return "\n".join(str(value) for sheet in workbook for row in sheet.iter_rows(values_only=True)
                         for value in row if value is not None)
    return response.get_data(as_text=True)


def leaks(text: str, forbidden: list[str]) -> list[str]:
    return [f for f in forbidden if f in text]


def link(entity: str, record_id: int) -> str:
    return f'/app/{entity}/{record_id}"'


VIEWER_PARAMS = pytest.mark.parametrize("viewer", VIEWERS)


@VIEWER_PARAMS
def test_list_pages_show_records_in_scope_and_nothing_else(world, clients, viewer):
    problems = []
    for entity, query in ((e, q) for e in ORDER for q in ("", f"?cols={world.columns[e]}")):
        text = body_text(clients[viewer].get(f"/app/{entity}{query}"))
        problems += [f"{entity}: missing {o}" for o, i in world.visible(viewer, entity).items() if link(entity, i) not in text]
        problems += [f"{entity}: shows {o}" for o, i in world.invisible(viewer, entity).items() if link(entity, i) in text]
        problems += [f"{entity}: leaks {t}" for t in leaks(text, world.forbidden(viewer))]
    assert problems == []


@VIEWER_PARAMS
def test_record_pages_with_related_lists_timeline_and_history_open_only_in_scope(world, clients, viewer):
    problems = []
    forbidden = world.forbidden(viewer)
    for entity in ORDER:
        visible = world.visible(viewer, entity)
        for owner in OWNERS:
            response = clients[viewer].get(f"/app/{entity}/{world.ids[entity, owner]}")
            expected = 200 if owner in visible else 404
            if response.status_code != expected:
                problems.append(f"{entity} of {owner}: {response.status_code}, expected {expected}")
            problems += [f"{entity} of {owner}: leaks {t}" for t in leaks(body_text(response), forbidden)]
    assert problems == []


@VIEWER_PARAMS
def test_related_lists_on_a_shared_parent_list_only_children_in_scope(world, clients, viewer):
    hub = world.ids["account", HUB_OWNER]
    response = clients[viewer].get(f"/app/account/{hub}")
    if HUB_OWNER not in readable_owners(viewer, "account"):
        assert response.status_code == 404
        return
    text = body_text(response)
    children = ("contact", "opportunity", "contract", "quote", "payment", "ticket")
    problems = [f"{e}: missing {o}" for e in children for o, i in world.visible(viewer, e).items()
                if link(e, i) not in text]
    problems += [f"{e}: shows {o}" for e in children for o, i in world.invisible(viewer, e).items()
                 if link(e, i) in text]
    assert problems == [] and leaks(text, world.forbidden(viewer)) == []


@VIEWER_PARAMS
def test_global_search_finds_records_in_scope_and_nothing_else(world, clients, viewer):
    text = body_text(clients[viewer].get("/search?q=MK"))
    problems = [f"{e}: missing {o}" for e in ORDER for o, i in world.visible(viewer, e).items()
                if link(e, i) not in text]
    problems += [f"{e}: shows {o}" for e in ORDER for o, i in world.invisible(viewer, e).items() if link(e, i) in text]
    assert problems == [] and leaks(text, world.forbidden(viewer)) == []


@VIEWER_PARAMS
def test_lookup_type_ahead_offers_records_in_scope_and_nothing_else(world, clients, viewer):
    problems = []
    for entity in ORDER:
        response = clients[viewer].get(f"/app/{entity}/lookup?q=MK")
        offered = {row["id"] for row in response.get_json()} if response.status_code == 200 else set()
        problems += [f"{entity}: missing {o}" for o, i in world.visible(viewer, entity).items() if i not in offered]
        problems += [f"{entity}: offers {o}" for o, i in world.invisible(viewer, entity).items() if i in offered]
        problems += [f"{entity}: leaks {t}" for t in leaks(body_text(response), world.forbidden(viewer))]
    assert problems == []


@VIEWER_PARAMS
def test_kanban_boards_show_cards_in_scope_and_nothing_else(world, clients, viewer):
    problems = []
    for entity in ORDER:
        response = clients[viewer].get(f"/app/{entity}/kanban")
        text = body_text(response)
        if response.status_code == 200:
            problems += [f"{entity}: missing {o}" for o, i in world.visible(viewer, entity).items()
                         if link(entity, i) not in text]
        problems += [f"{entity}: shows {o}" for o, i in world.invisible(viewer, entity).items() if link(entity, i) in text]
        problems += [f"{entity}: leaks {t}" for t in leaks(text, world.forbidden(viewer))]
    assert problems == []


def test_the_opportunity_board_exists(world, clients):
    assert clients["it"].get("/app/opportunity/kanban").status_code == 200


@VIEWER_PARAMS
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_exports_hold_records_in_scope_and_nothing_else(world, clients, viewer, file_format):
    problems = []
    for entity in ORDER:
        response = clients[viewer].get(f"/app/{entity}/export.{file_format}?cols={world.columns[entity]}")
        text = body_text(response)
        if response.status_code == 200:
            problems += [f"{entity}: missing {o}" for o in world.visible(viewer, entity) if marker(entity, o) not in text]
        problems += [f"{entity}: leaks {t}" for t in leaks(text, world.forbidden(viewer))]
    assert problems == []


def test_exports_need_the_export_right(world, clients):
    assert clients["rep_n1"].get("/app/account/export.csv").status_code == 403


@VIEWER_PARAMS
def test_history_tabs_never_show_hidden_values(world, clients, viewer):
    problems = []
    for (entity, field), texts in HIDDEN_TEXTS.items():
        if field not in hidden_from(viewer, entity):
            continue
        for owner, record_id in world.visible(viewer, entity).items():
            text = body_text(clients[viewer].get(f"/app/{entity}/{record_id}"))
            problems += [f"{entity} of {owner}: {t}" for t in texts if t in text]
    assert problems == []


def test_the_matrix_covers_in_and_out_of_scope_for_every_viewer_with_a_role():
    for viewer in VIEWERS:
        if PEOPLE[viewer][1]:
            assert any(readable_owners(viewer, e) for e in ORDER), viewer
    assert readable_owners("rep_n1", "account") == {"rep_n1"}
    assert readable_owners("mgr_n", "account") == {"rep_n1", "rep_n2"}
    assert readable_owners("director", "account") == {"rep_n1", "rep_n2", "rep_e1"}
    assert hidden_from("svc", "account") == {"annual_revenue", "credit_code"}


def test_hidden_values_do_show_to_a_role_that_may_see_them(world, clients):
    """The control for the absence checks: the markers are written where a page would show them."""
    account = body_text(clients["it"].get(f"/app/account/{world.ids['account', 'svc']}"))
    contract = body_text(clients["it"].get(f"/app/contract/{world.ids['contract', 'svc']}"))
    assert "91777000HXHXHX" in account and any(t in account for t in HIDDEN_TEXTS["account", "annual_revenue"])
    assert "HIDDENterms3A" in contract and "HIDDENterms3B" in contract   # the history's old → new


# -- details follow their master, assignees reach their tasks ----------------------------------------
def test_rep_opens_a_colleagues_line_on_their_own_quote(world, clients):
    line = world.extras["colleagues_line_on_own_quote"]
    assert clients["rep_n1"].get(f"/app/quote_line/{line}").status_code == 200
    quote = clients["rep_n1"].get(f"/app/quote/{world.ids['quote', 'rep_n1']}")
    assert link("quote_line", line) in body_text(quote)


def test_rep_edits_a_colleagues_line_through_their_own_quote(world, clients):
    line = world.extras["colleagues_line_on_own_quote"]
    runtime = world.app.extensions["formwork.runtime"]
    stored = runtime.query().get("quote_line", line)
    response = clients["rep_n1"].post(f"/app/quote_line/{line}/edit", data={
        "quote": stored["quote"], "name": stored["name"], "quantity": "3", "unit_price": "10",
        "version": stored["version"]})
    assert response.status_code == 302, body_text(response)
    assert runtime.query().get("quote_line", line)["quantity"] == 3


def test_rep_cannot_edit_their_own_line_on_a_quote_they_cannot_read(world, clients):
    line = world.extras["own_line_on_colleagues_quote"]
    response = clients["rep_n1"].post(f"/app/quote_line/{line}/edit", data={"quantity": "7", "version": "1"})
    assert response.status_code == 404


def test_rep_cannot_open_their_own_line_on_a_quote_they_cannot_read(world, clients):
    line = world.extras["own_line_on_colleagues_quote"]
    assert clients["rep_n1"].get(f"/app/quote_line/{line}").status_code == 404
    assert link("quote_line", line) not in body_text(clients["rep_n1"].get("/app/quote_line"))
    assert clients["rep_n1"].post(f"/app/quote_line/{line}/delete").status_code == 404


def test_assigned_rep_opens_the_task_their_manager_assigned_but_cannot_delete_it(world, clients):
    task = world.extras["assigned_task"]
    assert clients["rep_n1"].get(f"/app/task/{task}").status_code == 200
    assert clients["rep_n1"].get(f"/app/task/{task}/edit").status_code == 200
    assert link("task", task) in body_text(clients["rep_n1"].get("/app/task"))
    assert clients["rep_n1"].post(f"/app/task/{task}/delete").status_code == 403
    assert clients["mkt"].get(f"/app/task/{task}").status_code == 404


# -- navigation and New buttons ------------------------------------------------------------------------
def _nav_links(text: str) -> set[str]:
    nav = text[text.index("<nav"):text.index("</nav>")]
    return {e for e in ORDER if f'href="/app/{e}"' in nav or f'href="/app/{e}?' in nav or f'href="/app/{e}/' in nav}


def role_grants(viewer: str, entity: str, action: str) -> bool:
    for role in PEOPLE[viewer][1]:
        rules = next(r for r in APP_JSON["roles"] if r["name"] == role)["permissions"]
        grant = rules.get(entity, rules.get("*"))
        if grant is not None and (grant if isinstance(grant, str) else grant.get(action, "none")) != "none":
            return True
    return False


# Entities with a user field granting access: anyone may be named on one of their records (a task's assignee).
NAMING = {e for e in ORDER if any(f.get("grants") for f in json.loads(
    (ROOT / f"apps/crm_default/entities/{e}.json").read_text(encoding="utf-8"))["fields"])}


@pytest.mark.parametrize("viewer", ["rep_n1", "mkt", "svc", "nobody"])
def test_navigation_lists_only_entities_the_user_may_read(world, clients, viewer):
    listed = _nav_links(body_text(clients[viewer].get("/app/account")))
    assert listed == {e for e in ORDER if role_grants(viewer, e, "read") or e in NAMING}
    assert "quote" not in listed or viewer == "rep_n1"


@pytest.mark.parametrize("viewer", ["rep_n1", "fin"])
def test_new_buttons_show_only_where_the_user_may_create(world, clients, viewer):
    problems = []
    for entity in ORDER:
        if not role_grants(viewer, entity, "read"):
            continue
        shows_new = f'href="/app/{entity}/new"' in body_text(clients[viewer].get(f"/app/{entity}"))
        if shows_new != role_grants(viewer, entity, "create"):
            problems.append(f"{entity}: New {'shown' if shows_new else 'missing'}")
    assert problems == []


def test_the_new_form_of_an_entity_the_rep_may_not_create_is_refused_before_it_is_filled_in(world, clients):
    response = clients["rep_n1"].get("/app/payment/new")
    assert response.status_code == 403
    assert "you may not create “Payment” records" in body_text(response)
