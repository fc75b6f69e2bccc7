"""The audit log search (the `audit` right): by user, entity, action and time, newest first, with
"older" pages by entry id; each entry's changes shown old → new with field labels from metadata.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import render_template, request, url_for
from flask_babel import lazy_gettext as _l

from engine import audit as audit_log
from engine.audit import AuditRow
from metamodel.model import label_text
from ui.admin import admin_bp, choices, requires
from ui.context import locale, registry, runtime
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
}


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
    lines = [audit_line(row) for row in found[:PAGE]]
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


def audit_line(row: AuditRow) -> AuditLine:
    entry = row.entry
    entity = registry().entities.get(entry.entity or "")
    lang = locale()

    def label(name: str) -> str:
        if name == "owner_id":
            return str(_l("Owner"))
        return label_text(entity.field(name).label, lang) if entity and entity.has_field(name) else name

    shown_entity = label_text(entity.label, lang) if entity else str(SYSTEM_ENTITIES.get(entry.entity or "", entry.entity or ""))
    href = (url_for("records.show", entity=entity.name, record_id=entry.record_id)
            if entity and entry.record_id else None)
    return AuditLine(
        entry.id, local_text(entry.at, seconds=True), row.username or str(_l("System")),
        str(ACTIONS.get(entry.action, entry.action)), shown_entity,
        href, entry.record_id,
        [(label(name), value_text(old), value_text(new)) for name, (old, new) in entry.changes.items()],
        [(key, value_text(value)) for key, value in entry.detail.items()])


def value_text(value: Any) -> str:
    """An audited JSON value as text: lists joined, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {value_text(v)}" for k, v in value.items())
    return str(value)
