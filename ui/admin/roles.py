"""The role editor (the `users` right): entity × action scopes, then per-entity field access, then
admin rights. One save writes every change through set_grant / set_field_access / set_rights in one
transaction; a key the form does not send leaves its rule as it is.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.engine import Connection
from werkzeug.datastructures import MultiDict

from engine.errors import PermissionDenied
from engine.security.grants import PermissionSet
from engine.security.permissions import load_permissions, set_field_access, set_grant, set_rights
from engine.storage.db import write_transaction
from metamodel.model import ACTIONS, RIGHTS, SCOPES, EntityGrant, label_text
from ui.admin import admin_bp, choices, requires
from ui.context import actor, locale, registry, runtime

ACTION_LABELS = {"create": _l("Create"), "read": _l("Read"), "update": _l("Update"), "delete": _l("Delete")}
SCOPE_LABELS = {"none": _l("None"), "own": _l("Own"), "department": _l("Department"),
                "department_and_below": _l("Department and below"), "all": _l("All")}
ACCESS_LABELS = {"normal": _l("Normal"), "read_only": _l("Read-only"), "hidden": _l("Hidden")}
RIGHT_LABELS = {"metadata": _l("Metadata: entities, fields, layouts"), "users": _l("Users, departments and roles"),
                "flows": _l("Flows"), "import": _l("Import"), "export": _l("Export"), "api": _l("API tokens"),
                "audit": _l("Audit log")}


@dataclass(frozen=True)
class Cell:
    key: str            # the form field's name
    label: str          # what a screen reader announces ("Account: Read")
    short: str          # what the eye needs beside the entity's heading ("Read")
    value: str


@dataclass(frozen=True)
class GrantRow:
    entity: str
    label: str
    cells: list[Cell]


@dataclass(frozen=True)
class EntityFields:
    entity: str
    label: str
    cells: list[Cell]    # one per field; label is the field's
    limited: int         # fields hidden or read-only


@dataclass(frozen=True)
class RightBox:
    right: str
    label: str
    held: bool


def scope_key(entity: str, action: str) -> str:
    return f"scope.{entity}.{action}"


def field_key(entity: str, field: str) -> str:
    return f"field.{entity}.{field}"


def field_access(rules: PermissionSet, entity: str, field: str) -> str:
    if field in rules.hidden_fields(entity):
        return "hidden"
    return "read_only" if field in rules.read_only.get(entity, frozenset()) else "normal"


def matrix(rules: PermissionSet) -> tuple[list[GrantRow], list[EntityFields]]:
    """The role's scopes and field limits as rows of cells, labelled in the user's locale."""
    lang = locale()
    grants, fields = [], []
    for name, entity in sorted(registry().entities.items(), key=lambda e: label_text(e[1].label, lang).lower()):
        label = label_text(entity.label, lang)
        grants.append(GrantRow(name, label, [
            Cell(scope_key(name, a), f"{label}: {ACTION_LABELS[a]}", str(ACTION_LABELS[a]), rules.scope(name, a)) for a in ACTIONS]))
        cells = [Cell(field_key(name, f.name), f"{label}: {label_text(f.label, lang)}", label_text(f.label, lang),
                      field_access(rules, name, f.name)) for f in entity.fields]
        fields.append(EntityFields(name, label, cells, sum(c.value != "normal" for c in cells)))
    return grants, fields


def role_or_404(name: str) -> choices.RoleSummary:
    found = next((r for r in choices.roles() if r.name == name), None)
    if found is None:
        abort(404)
    return found


@admin_bp.route("/roles")
@requires("users")
def roles():
    members: dict[str, int] = {}
    for user in choices.users():
        for role in user.roles if user.active else ():
            members[role] = members.get(role, 0) + 1
    return render_template("admin/roles.html", roles=choices.roles(), members=members)


@admin_bp.route("/roles/<role>", methods=["GET", "POST"])
@requires("users")
def role(role: str):
    summary = role_or_404(role)
    with runtime().engine.connect() as conn:
        rules = load_permissions(conn, [role])
    if request.method == "POST":
        try:
            with write_transaction(runtime().engine) as conn:
                changed = save_changes(conn, role, rules, request.form)
        except PermissionDenied as exc:   # nothing of the save is kept
            flash(_("Nothing was saved: %(problem)s", problem=str(exc)), "danger")
            return role_page(summary, rules), 403
        flash(_("Role %(name)s saved (%(n)d changes).", name=summary.label, n=changed), "success")
        return redirect(url_for("admin.role", role=role))
    return role_page(summary, rules)


def role_page(summary: choices.RoleSummary, rules: PermissionSet) -> str:
    grants, fields = matrix(rules)
    rights = [RightBox(r, str(RIGHT_LABELS[r]), r in rules.rights) for r in RIGHTS]
    return render_template("admin/role.html", role=summary, grants=grants, fields=fields, rights=rights,
                           actions=[(a, ACTION_LABELS[a]) for a in ACTIONS],
                           scopes=[(s, SCOPE_LABELS[s]) for s in SCOPES], accesses=list(ACCESS_LABELS.items()))


def save_changes(conn: Connection, role: str, rules: PermissionSet, form: MultiDict) -> int:
    """Writes what differs between `form` and the role's current `rules`; returns how many rules changed."""
    changed = 0
    for name, entity in registry().entities.items():
        scopes = {a: _chosen(form, scope_key(name, a), rules.scope(name, a), SCOPES) for a in ACTIONS}
        if any(scopes[a] != rules.scope(name, a) for a in ACTIONS):
            set_grant(conn, actor(), role, name, EntityGrant(**scopes))
            changed += 1
        for f in entity.fields:
            current = field_access(rules, name, f.name)
            access = _chosen(form, field_key(name, f.name), current, tuple(ACCESS_LABELS))
            if access != current:
                set_field_access(conn, actor(), role, name, f.name, None if access == "normal" else access)
                changed += 1
    rights = {r for r in form.getlist("right") if r in RIGHTS} if "rights" in form else set(rules.rights)
    if rights != set(rules.rights):
        set_rights(conn, actor(), role, rights)
        changed += 1
    return changed


def _chosen(form: MultiDict, key: str, current: str, allowed: tuple[str, ...]) -> str:
    value = form.get(key, current)
    if value not in allowed:
        abort(400)
    return value
