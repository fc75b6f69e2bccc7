"""The left navigation, built from the installed apps' navigation metadata in the user's locale.

Entities no app's navigation names are listed under "Other", so every entity stays reachable.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.registry import Registry
from metamodel.model import NavItem, label_text


@dataclass(frozen=True)
class NavLink:
    entity: str
    label: str
    icon: str
    href: str
    active: bool


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


def build_navigation(registry: Registry, locale: str, current_entity: str | None) -> list[NavSection]:
    """Returns the sections of the left navigation, in app order."""
    sections: list[NavSection] = []
    listed: set[str] = set()
    for app in registry.apps.values():
        for group in app.navigation:
            links = []
            for item in group.items:
                if item.entity not in registry.entities:
                    continue
                entity = registry.entities[item.entity]
                listed.add(entity.name)
                links.append(NavLink(entity.name, label_text(entity.plural_label, locale),
                                     entity.icon or group.icon or "circle", item_href(item),
                                     entity.name == current_entity))
            sections.append(NavSection(group.name, label_text(group.label, locale), group.icon or "folder",
                                       tuple(links)))
    rest = [e for name, e in sorted(registry.entities.items()) if name not in listed]
    if rest:
        sections.append(NavSection("other", _("Other"), "dots", tuple(
            NavLink(e.name, label_text(e.plural_label, locale), e.icon or "circle",
                    url_for("records.list_records", entity=e.name), e.name == current_entity)
            for e in rest)))
    return sections


def navigation_context() -> dict:
    if not getattr(current_user, "is_authenticated", False):
        return {}
    from ui.context import locale, registry

    current = (request.view_args or {}).get("entity")
    return {"navigation": build_navigation(registry(), locale(), current)}


def init_app(app: Flask) -> None:
    app.context_processor(navigation_context)
