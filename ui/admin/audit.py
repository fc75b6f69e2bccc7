"""The audit log search (the `audit` right): by user, entity, action and time, newest first, with
"older" pages by entry id; each entry's changes shown old → new with field labels from metadata.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import render_template, request, url_for
from flask_babel import lazy_gettext as _l

from engine.security import audit as audit_log
from engine.security.audit import AuditRow
from metamodel.model import label_text
from ui.admin import admin_bp, choices, requires
from ui.admin.roles import ACCESS_LABELS, RIGHT_LABELS, SCOPE_LABELS
from ui.context import locale, registry, runtime
from ui.i18n import LOCALES
from ui.records.changes import ChangeText
from ui.records.localtime import local_text, user_zone

PAGE = 50
SYSTEM_ENTITIES = {"fw_user": _l("User")}
ACTIONS = {
    "create": _l("Record created"), "update": _l("Record changed"), "delete": _l("Record deleted"),
    "restore": _l("Record restored"), "export": _l("Export"), "share": _l("Shared"), "unshare": _l("Unshared"),
    "login": _l("Signed in"), "login_failed": _l("Failed sign-in"), "login_throttled": _l("Sign-in throttled"),
    "user_create": _l("User created"), "user_change": _l("User changed"), "user_deactivate": _l("User deactivated"),
    "password_change": _l("Password changed"), "department_create": _l("Department created"),
    "department_change": _l("Department changed"), "permission_change": _l("Permissions changed"),
    "permissions_installed": _l("Permissions installed"), "token_create": _l("API token created"),
    "token_revoke": _l("API token revoked"), "audit_purge": _l("Audit log purged"),
    "user_reactivate": _l("User reactivated"), "department_delete": _l("Department deleted"),
    "sessions_end": _l("Signed out everywhere"), "login_unlock": _l("Sign-in unlocked"),
}
# Names of the detail and user-change keys the engine audits, as people read them.
KEY_LABELS = {
    "username": _l("Username"), "address": _l("IP address"), "reason": _l("Reason"), "roles": _l("Roles"), "role": _l("Role"),
    "department_id": _l("Department"), "department": _l("Department"), "parent": _l("Parent department"),
    "manager_id": _l("Manager"), "head_id": _l("Head"), "is_admin": _l("Administrator"),
    "user_id": _l("User"), "display_name": _l("Name"), "email": _l("Email"), "locale": _l("Language"),
    "timezone": _l("Time zone"), "entity": _l("Entity"), "field": _l("Field"), "access": _l("Access"),
    "rights": _l("Rights"), "app": _l("App"), "version": _l("Version"), "filters": _l("Filters"),
    "rows": _l("Rows"), "format": _l("Format"), "before": _l("Before"), "removed": _l("Removed"),
    "name": _l("Name"), "scope": _l("Scope"), "owner_id": _l("Owner"),
    "create": _l("Create"), "read": _l("Read"), "update": _l("Update"), "delete": _l("Delete"),
}
USER_KEYS = ("manager_id", "head_id", "user_id", "owner_id")


@dataclass(frozen=True)
class AuditSearch:
    user: str
    entity: str
    action: str
    since: dt.date | None
    until: dt.date | None      # inclusive: the whole day
    before: int | None

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query string of this search (with `changes`), without empty values."""
        values = {"user": self.user, "entity": self.entity, "action": self.action,
                  "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else "", "before": self.before or "", **changes}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class AuditLine:
    id: int
    at: str
    who: str
    action: str
    entity: str
    record_href: str | None
    record_id: int | None
    record_text: str
    changes: list[tuple[str, str, str]]     # label, old, new
    detail: list[tuple[str, str]]


def search_from_args() -> AuditSearch:
    before = request.args.get("before", "")
    return AuditSearch(request.args.get("user", "").strip(), request.args.get("entity", "").strip(),
                       request.args.get("action", "").strip(), _date(request.args.get("since")),
                       _date(request.args.get("until")), int(before) if before.isdigit() else None)


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight of `day` in the user's time zone, in UTC."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=user_zone()).astimezone(dt.UTC)


def run_search(wanted: AuditSearch) -> list[AuditRow]:
    with runtime().engine.connect() as conn:
        return audit_log.search(
            conn, user=wanted.user or None, entity=wanted.entity or None, action=wanted.action or None,
            since=_day_start(wanted.since) if wanted.since else None,
            until=_day_start(wanted.until + dt.timedelta(days=1)) if wanted.until else None,
            before_id=wanted.before, limit=PAGE + 1)


@admin_bp.route("/audit")
@requires("audit")
def audit():
    wanted = search_from_args()
    found = run_search(wanted)
    shown = found[:PAGE]
    texts = ChangeText().load((registry().entities.get(r.entry.entity or ""), r.entry.changes) for r in shown)
    names = AdminNames()
    lines = [audit_line(row, texts, names) for row in shown]
    older = url_for("admin.audit", **wanted.args(before=lines[-1].id)) if len(found) > PAGE else None
    newest = url_for("admin.audit", **wanted.args(before="")) if wanted.before else None
    return render_template("admin/audit.html", search=wanted, lines=lines, older=older, newest=newest,
                           actions=[(a, str(label)) for a, label in ACTIONS.items()], entities=entity_choices(),
                           people=[(u.username, f"{u.display_name} ({u.username})") for u in choices.users()])


def entity_choices() -> list[tuple[str, str]]:
    lang = locale()
    found = sorted(((name, label_text(e.label, lang)) for name, e in registry().entities.items()),
                   key=lambda item: item[1].lower())
    return [*found, *((name, str(label)) for name, label in SYSTEM_ENTITIES.items())]


def audit_line(row: AuditRow, texts: ChangeText | None = None, names: AdminNames | None = None) -> AuditLine:
    entry = row.entry
    entity = registry().entities.get(entry.entity or "")
    lang = locale()
    texts = texts or ChangeText().load([(entity, entry.changes)])
    names = names or AdminNames()

    def label(name: str) -> str:
        if entity and entity.has_field(name):
            return label_text(entity.field(name).label, lang)
        return str(KEY_LABELS.get(name, name))

    def shown(name: str, value: Any) -> str:
        if entity and entity.has_field(name):
            return texts.value(entity.field(name), value, lang)
        if name == "owner_id":
            return texts.user(value)
        return names.text(name, value)

    shown_entity = label_text(entity.label, lang) if entity else str(SYSTEM_ENTITIES.get(entry.entity or "", entry.entity or ""))
    href = (url_for("records.show", entity=entity.name, record_id=entry.record_id)
            if entity and entry.record_id else None)
    record_text = f"#{entry.record_id}" if entry.record_id else ""
    if entry.entity == "fw_user" and entry.record_id:
        record_text = names.users().get(entry.record_id, record_text)
        href = url_for("admin.edit_user", user_id=entry.record_id)
    return AuditLine(
        entry.id, local_text(entry.at, seconds=True), row.username or str(_l("System")),
        str(ACTIONS.get(entry.action, entry.action)), shown_entity,
        href, entry.record_id, record_text,
        [(label(name), shown(name, old), shown(name, new)) for name, (old, new) in entry.changes.items()],
        [(str(KEY_LABELS.get(key, key)), names.text(key, value)) for key, value in entry.detail.items()
         if value not in (None, "", [])])


class AdminNames:
    """Ids, role names and flags in audit details as people read them (users and departments by name)."""

    def __init__(self) -> None:
        self._users: dict[int, str] | None = None
        self._departments: dict[int, str] | None = None
        self._roles: dict[str, str] | None = None

    def users(self) -> dict[int, str]:
        if self._users is None:
            self._users = {u.id: u.display_name for u in choices.users()}
        return self._users

    def departments(self) -> dict[int, str]:
        if self._departments is None:
            self._departments = {d.id: d.path for d in choices.departments()}
        return self._departments

    def roles(self) -> dict[str, str]:
        if self._roles is None:
            self._roles = dict(choices.role_choices())
        return self._roles

    def text(self, key: str, value: Any) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, bool):
            return str(_l("Yes") if value else _l("No"))
        if key in USER_KEYS and isinstance(value, int):
            return self.users().get(value, f"#{value}")
        if key == "department_id" and isinstance(value, int):
            return self.departments().get(value, f"#{value}")
        if key in ("roles", "role"):
            found = value if isinstance(value, list) else [value]
            return ", ".join(self.roles().get(str(r), str(r)) for r in found)
        if key == "entity" and isinstance(value, str) and value in registry().entities:
            return label_text(registry().entities[value].label, locale())
        if key == "locale" and isinstance(value, str):
            return LOCALES.get(value, value)
        if key in ("create", "read", "update", "delete") and isinstance(value, str):
            return str(SCOPE_LABELS.get(value, value))
        if key == "access" and isinstance(value, str):
            return str(ACCESS_LABELS.get(value, value))
        if key == "rights" and isinstance(value, list):
            return ", ".join(str(RIGHT_LABELS.get(r, r)) for r in value)
        return value_text(value)


def value_text(value: Any) -> str:
    """An audited JSON value as text: lists joined, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(_l("Yes") if value else _l("No"))
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {value_text(v)}" for k, v in value.items())
    return str(value)
