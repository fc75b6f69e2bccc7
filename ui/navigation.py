"""The left navigation, built from the installed apps' navigation metadata in the user's locale.

Only entities the user may read are listed; entities no app's navigation names are listed under
"Other", so every readable entity stays reachable.
A link shows how many records wait when its entity has an `open` list view: all of that view's
records when the link opens it (open tickets), else the open ones assigned to the user through the
entity's first user field (my open tasks). One count query each, made once per request.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.data.registry import Registry
from engine.errors import FormworkError
from engine.security.actors import Actor
from engine.security.scopes import may_act_on_entity
from metamodel.model import Condition, EntityDef, NavItem, label_text

OPEN_VIEW = "open"


@dataclass(frozen=True)
class NavLink:
    entity: str
    label: str
    icon: str
    href: str
    active: bool
    count: int | None = None
    count_label: str = ""


@dataclass(frozen=True)
class NavSection:
    name: str
    label: str
    icon: str
    links: tuple[NavLink, ...]


def item_href(item: NavItem) -> str:
    if item.view == "kanban":
        return url_for("records.kanban", entity=item.entity)
    if item.view and item.view != "list":
        return url_for("records.list_records", entity=item.entity, view=item.view)
    return url_for("records.list_records", entity=item.entity)


def build_navigation(registry: Registry, locale: str, current_entity: str | None,
                     user: Actor) -> list[NavSection]:
    """Returns the sections of the left navigation, in app order, holding only entities `user` may
    read (a section left empty is left out)."""
    sections: list[NavSection] = []
    # Unreadable entities count as listed so they do not reappear under "Other".
    listed = {name for name, e in registry.entities.items() if not may_act_on_entity(user, e, "read")}
    for app in registry.apps.values():
        for group in app.navigation:
            links = []
            for item in group.items:
                if item.entity not in registry.entities or item.entity in listed:
                    continue
                entity = registry.entities[item.entity]
                listed.add(entity.name)
                count, count_label = waiting_count(entity, item)
                links.append(NavLink(entity.name, label_text(entity.plural_label, locale),
                                     entity.icon or group.icon or "circle", item_href(item),
                                     entity.name == current_entity, count, count_label))
            if links:
                sections.append(NavSection(group.name, label_text(group.label, locale), group.icon or "folder",
                                           tuple(links)))
    rest = [e for name, e in sorted(registry.entities.items()) if name not in listed]
    if rest:
        sections.append(NavSection("other", _("Other"), "dots", tuple(
            NavLink(e.name, label_text(e.plural_label, locale), e.icon or "circle",
                    url_for("records.list_records", entity=e.name), e.name == current_entity)
            for e in rest)))
    return sections


def waiting_count(entity: EntityDef, item: NavItem) -> tuple[int | None, str]:
    """(count, its description) of the records waiting behind a navigation link; (None, "") when
    the entity has no `open` view."""
    view = next((v for v in entity.list_views if v.name == OPEN_VIEW), None)
    if view is None:
        return None, ""
    from ui.context import actor, query

    filters = list(view.filters)
    label = _("open")
    user_field = next((f.name for f in entity.fields if f.type == "user"), None)
    if item.view != OPEN_VIEW and user_field:
        filters.append(Condition(user_field, "eq", actor().id))
        label = _("open, assigned to you")
    cache = g.setdefault("fw_nav_counts", {})
    key = (entity.name, tuple(filters))
    if key not in cache:
        try:
            cache[key] = query().count(entity.name, filters=filters)
        except FormworkError:   # a field hidden from the user's roles: no count rather than an error
            cache[key] = None
    return cache[key], label


def may_create(entity_name: str) -> bool:
    """Whether the signed-in user may create records of `entity_name` (the New buttons)."""
    from ui.context import actor, registry

    entities = registry().entities
    return entity_name in entities and may_act_on_entity(actor(), entities[entity_name], "create")


def navigation_context() -> dict:
    if not getattr(current_user, "is_authenticated", False):
        return {}
    from ui.context import actor, locale, registry

    current = (request.view_args or {}).get("entity")
    return {"navigation": build_navigation(registry(), locale(), current, actor()), "may_create": may_create}


def init_app(app: Flask) -> None:
    app.context_processor(navigation_context)
