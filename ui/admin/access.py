""""Why can this user see this record?" (the `users` right): the engine's explanation, role by role,
with the fields hidden from or read-only for that user. Reached from a record page or by a form.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import NotFound
from engine.security.actors import Actor
from engine.security.explain import AccessExplanation, explain_access
from engine.security.scopes import hidden_fields
from engine.security.users import actor_by_name
from metamodel.model import label_text
from ui.admin import admin_bp, choices, requires
from ui.context import locale, query, registry, runtime


@dataclass(frozen=True)
class AccessQuestion:
    username: str
    entity: str
    record_id: int | None

    @property
    def complete(self) -> bool:
        return bool(self.username and self.entity and self.record_id is not None)


@dataclass(frozen=True)
class AccessAnswer:
    explanation: AccessExplanation
    title: str
    href: str
    hidden: list[str]
    read_only: list[str]


def question_from_args() -> AccessQuestion:
    raw_id = request.args.get("id", "").strip()
    return AccessQuestion(request.args.get("user", "").strip(), request.args.get("entity", "").strip(),
                          int(raw_id) if raw_id.isdigit() else None)


@admin_bp.route("/access")
@requires("users")
def access():
    question = question_from_args()
    answer, problem = answer_for(question) if question.complete else (None, "")
    lang = locale()
    entities = sorted(((name, label_text(e.label, lang)) for name, e in registry().entities.items()),
                      key=lambda item: item[1].lower())
    people = [(u.username, f"{u.display_name} ({u.username})") for u in choices.users()]
    return render_template("admin/access.html", question=question, answer=answer, problem=problem,
                           entities=entities, people=people), 404 if problem else 200


def answer_for(question: AccessQuestion) -> tuple[AccessAnswer | None, str]:
    """The explanation, or None and why there is none (unknown user, entity or record)."""
    if question.entity not in registry().entities:
        return None, _("There is no entity %(name)s.", name=question.entity)
    with runtime().engine.connect() as conn:
        user = actor_by_name(conn, question.username)
        if user is None:
            return None, _("There is no active user %(name)s; a deactivated user cannot sign in and sees nothing.",
                           name=question.username)
        try:
            explanation = explain_access(conn, registry(), user, question.entity, question.record_id)
        except NotFound:
            return None, _("There is no %(entity)s with id %(id)s.", entity=question.entity, id=question.record_id)
    return AccessAnswer(explanation, *_record_link(question), *_limited_fields(user, question.entity)), ""


def _record_link(question: AccessQuestion) -> tuple[str, str]:
    titles = query().titles(question.entity, [question.record_id])
    title = titles.get(question.record_id) or f"#{question.record_id}"
    return title, url_for("records.show", entity=question.entity, record_id=question.record_id)


def _limited_fields(user: Actor, entity_name: str) -> tuple[list[str], list[str]]:
    entity = registry().entity(entity_name)
    lang = locale()
    hidden = hidden_fields(user, entity, registry())
    read_only = set() if user.is_admin else user.permissions.read_only.get(entity_name, frozenset())
    labels = {f.name: label_text(f.label, lang) for f in entity.fields}
    return ([labels[n] for n in sorted(hidden) if n in labels],
            [labels[n] for n in sorted(read_only) if n in labels])
