"""Schema-valid JSON documents turned into the frozen dataclasses of `metamodel.model`, and back.

`document_of_*` functions are the exact inverse of `*_from_document`, in a canonical key order.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from metamodel.fieldtypes import FIELD_TYPES
from metamodel.model import (
    ACTIONS,
    AppDef,
    Condition,
    ConversionDef,
    ConversionPart,
    Document,
    EntityDef,
    EntityGrant,
    FieldDef,
    IndexDef,
    Label,
    Layout,
    LayoutField,
    ListView,
    NavGroup,
    NavItem,
    Role,
    Section,
    SortKey,
    ValidationRule,
    deep_freeze,
    frozen_mapping,
    thaw,
)

if TYPE_CHECKING:
    from metamodel.flows import FlowDef

FIELD_KEYS = ("name", "type", "label", "help", "required", "unique", "indexed", "read_only",
              "default", "default_formula", "renamed_from")
ENVELOPE_KEYS = ("name", "label", "kind", "entity", "version")
DEFAULT_SECTION_COLUMNS = 2


# -- documents -> model ------------------------------------------------------------------------
def label_from(value: Any) -> Label | None:
    """Returns a label mapping from a string or a {locale: text} object (None stays None)."""
    if value is None:
        return None
    return frozen_mapping({"en": value} if isinstance(value, str) else value)


def field_from_document(doc: Mapping[str, Any]) -> FieldDef:
    options = {k: v for k, v in doc.items() if k not in FIELD_KEYS}
    return FieldDef(
        name=doc["name"], type=doc["type"], label=label_from(doc["label"]),
        help=label_from(doc.get("help")), required=doc.get("required", False),
        unique=doc.get("unique", False), indexed=doc.get("indexed", False),
        read_only=doc.get("read_only", False), default=deep_freeze(doc.get("default")),
        default_formula=doc.get("default_formula"), renamed_from=doc.get("renamed_from"),
        options=deep_freeze(options),
    )


def _section_from(doc: Mapping[str, Any]) -> Section:
    fields = tuple(
        LayoutField(item) if isinstance(item, str)
        else LayoutField(item["field"], item.get("visible_if"), item.get("required_if"))
        for item in doc["fields"])
    return Section(name=doc["name"], label=label_from(doc.get("label")),
                   columns=doc.get("columns", DEFAULT_SECTION_COLUMNS),
                   collapsed=doc.get("collapsed", False), fields=fields,
                   visible_if=doc.get("visible_if"))


def _list_view_from(doc: Mapping[str, Any]) -> ListView:
    return ListView(
        name=doc["name"], label=label_from(doc["label"]), columns=tuple(doc["columns"]),
        sort=tuple(SortKey(s["field"], s.get("direction", "asc")) for s in doc.get("sort", ())),
        filters=tuple(Condition(c["field"], c["op"], deep_freeze(c.get("value")))
                      for c in doc.get("filters", ())),
        stage_field=doc.get("stage_field"),
    )


def entity_from_document(doc: Mapping[str, Any], skip_fields: frozenset[int] = frozenset()) -> EntityDef:
    """Returns the entity of a schema-valid document, leaving out the fields at `skip_fields`."""
    label = label_from(doc["label"])
    return EntityDef(
        name=doc["name"], label=label, plural_label=label_from(doc.get("plural_label")) or label,
        fields=tuple(field_from_document(f) for i, f in enumerate(doc["fields"]) if i not in skip_fields),
        icon=doc.get("icon"), title_field=doc.get("title_field"), renamed_from=doc.get("renamed_from"),
        indexes=tuple(IndexDef(i["name"], tuple(i["fields"]), i.get("unique", False))
                      for i in doc.get("indexes", ())),
        validation_rules=tuple(ValidationRule(r["name"], r["condition"], label_from(r["message"]),
                                              r.get("field"))
                               for r in doc.get("validation_rules", ())),
        layouts=tuple(Layout(lay["name"], tuple(_section_from(s) for s in lay["sections"]))
                      for lay in doc.get("layouts", ())),
        list_views=tuple(_list_view_from(v) for v in doc.get("list_views", ())),
        conversion=_conversion_from(doc["conversion"]) if "conversion" in doc else None,
    )


def _conversion_part_from(doc: Mapping[str, Any]) -> ConversionPart:
    return ConversionPart(entity=doc["entity"], link=doc["link"], set=frozen_mapping(doc.get("set")),
                          form=tuple(doc.get("form", ())), account_field=doc.get("account_field"),
                          contact_field=doc.get("contact_field"), match=tuple(doc.get("match", ())))


def _conversion_from(doc: Mapping[str, Any]) -> ConversionDef:
    status = doc["status"]
    opportunity = doc.get("opportunity")
    return ConversionDef(
        status_field=status["field"], status_value=status["value"], converted_at=doc["converted_at"],
        account=_conversion_part_from(doc["account"]), contact=_conversion_part_from(doc["contact"]),
        opportunity=_conversion_part_from(opportunity) if opportunity is not None else None,
        allowed_from=tuple(status.get("from", ())))


def document_from(doc: Mapping[str, Any]) -> Document:
    """Returns a flow, report or dashboard: its envelope split out, the rest kept as its body."""
    body = {k: v for k, v in doc.items() if k not in ENVELOPE_KEYS and k != "$schema"}
    return Document(name=doc["name"], kind=doc.get("kind"), entity=doc.get("entity"),
                    label=label_from(doc.get("label")), body=deep_freeze(body),
                    version=doc.get("version"))


def grant_from(value: str | Mapping[str, str]) -> EntityGrant:
    """Returns a grant from a scope for every action ("own") or an object of action -> scope."""
    if isinstance(value, str):
        return EntityGrant(*(value for _ in ACTIONS))
    return EntityGrant(**{action: value.get(action, "none") for action in ACTIONS})


def role_from_document(doc: Mapping[str, Any]) -> Role:
    return Role(
        doc["name"], label_from(doc["label"]), label_from(doc.get("description")),
        permissions=frozen_mapping({entity: grant_from(v) for entity, v in doc.get("permissions", {}).items()}),
        field_access=deep_freeze(doc.get("field_access", {})),
        rights=tuple(doc.get("rights", ())),
    )


def app_from_parts(doc: Mapping[str, Any], entities: Mapping[str, EntityDef],
                   flows: Mapping[str, Document], reports: Mapping[str, Document],
                   dashboards: Mapping[str, Document],
                   seed: Mapping[str, Any], flow_definitions: Mapping[str, FlowDef] | None = None,
                   email_templates: Mapping[str, Document] | None = None) -> AppDef:
    """Returns the app of a schema-valid app.json and its already-built parts."""
    return AppDef(
        name=doc["name"], version=doc["version"], label=label_from(doc["label"]),
        entities=frozen_mapping(entities), description=label_from(doc.get("description")),
        roles=tuple(role_from_document(r) for r in doc.get("roles", ())),
        navigation=tuple(
            NavGroup(g["name"], label_from(g["label"]), g.get("icon"),
                     tuple(NavItem(i["entity"], i.get("view")) for i in g["items"]))
            for g in doc.get("navigation", ())),
        flows=frozen_mapping(flows), flow_definitions=frozen_mapping(flow_definitions),
        reports=frozen_mapping(reports),
        dashboards=frozen_mapping(dashboards),
        email_templates=frozen_mapping(email_templates or {}),
        seed=frozen_mapping({name: deep_freeze(rows) for name, rows in seed.items()}),
    )


# -- model -> documents ------------------------------------------------------------------------
# Lists the schema requires even when empty; every other empty list is left out like a default.
_REQUIRED_LISTS = frozenset({"fields", "items", "sections", "columns"})


def _compact(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Returns a dict of the pairs that differ from their default (None, False, empty list)."""
    return {k: v for k, v in pairs
            if v is not None and v is not False and (v != [] or k in _REQUIRED_LISTS)}


def document_of_label(label: Label | None) -> Any:
    """Returns a label as written: a plain string when it has only English."""
    if label is None:
        return None
    if set(label) == {"en"}:
        return label["en"]
    return dict(label)


def document_of_field(field: FieldDef) -> dict[str, Any]:
    doc = _compact([
        ("name", field.name), ("type", field.type), ("label", document_of_label(field.label)),
        ("help", document_of_label(field.help)), ("required", field.required),
        ("unique", field.unique), ("indexed", field.indexed), ("read_only", field.read_only),
        ("default_formula", field.default_formula), ("renamed_from", field.renamed_from),
    ])
    if field.default is not None:
        doc["default"] = thaw(field.default)
    ftype = FIELD_TYPES.get(field.type)
    order = list(ftype.extra_schema()) if ftype else []
    for key in sorted(field.options, key=lambda k: (order.index(k) if k in order else len(order), k)):
        doc[key] = thaw(field.options[key])
    return doc


def _document_of_section(section: Section) -> dict[str, Any]:
    fields = [lf.field if lf.visible_if is None and lf.required_if is None
              else _compact([("field", lf.field), ("visible_if", lf.visible_if),
                             ("required_if", lf.required_if)])
              for lf in section.fields]
    return _compact([("name", section.name), ("label", document_of_label(section.label)),
                     ("columns", section.columns), ("collapsed", section.collapsed),
                     ("visible_if", section.visible_if), ("fields", fields)])


def _document_of_list_view(view: ListView) -> dict[str, Any]:
    filters = []
    for c in view.filters:
        condition = {"field": c.field, "op": c.op}
        if c.value is not None:
            condition["value"] = thaw(c.value)
        filters.append(condition)
    return _compact([
        ("name", view.name), ("label", document_of_label(view.label)), ("columns", list(view.columns)),
        ("sort", [{"field": s.field, "direction": s.direction} for s in view.sort]),
        ("filters", filters), ("stage_field", view.stage_field)])


def document_of_entity(entity: EntityDef) -> dict[str, Any]:
    return _compact([
        ("name", entity.name), ("label", document_of_label(entity.label)),
        ("plural_label", document_of_label(entity.plural_label)), ("icon", entity.icon),
        ("title_field", entity.title_field), ("renamed_from", entity.renamed_from),
        ("fields", [document_of_field(f) for f in entity.fields]),
        ("indexes", [_compact([("name", i.name), ("fields", list(i.fields)), ("unique", i.unique)])
                     for i in entity.indexes]),
        ("validation_rules", [_compact([("name", r.name), ("condition", r.condition),
                                        ("message", document_of_label(r.message)), ("field", r.field)])
                              for r in entity.validation_rules]),
        ("layouts", [{"name": lay.name, "sections": [_document_of_section(s) for s in lay.sections]}
                     for lay in entity.layouts]),
        ("list_views", [_document_of_list_view(v) for v in entity.list_views]),
        ("conversion", _document_of_conversion(entity.conversion) if entity.conversion else None),
    ])


def _document_of_conversion_part(part: ConversionPart) -> dict[str, Any]:
    return _compact([("entity", part.entity), ("link", part.link), ("set", dict(part.set) or None),
                     ("form", list(part.form)), ("account_field", part.account_field),
                     ("contact_field", part.contact_field), ("match", list(part.match))])


def _document_of_conversion(conversion: ConversionDef) -> dict[str, Any]:
    status = _compact([("field", conversion.status_field), ("value", conversion.status_value),
                       ("from", list(conversion.allowed_from))])
    return _compact([
        ("status", status), ("converted_at", conversion.converted_at),
        ("account", _document_of_conversion_part(conversion.account)),
        ("contact", _document_of_conversion_part(conversion.contact)),
        ("opportunity", _document_of_conversion_part(conversion.opportunity) if conversion.opportunity else None),
    ])


def document_of_document(document: Document) -> dict[str, Any]:
    head = _compact([("name", document.name), ("label", document_of_label(document.label)),
                     ("kind", document.kind), ("entity", document.entity),
                     ("version", document.version)])
    return {**head, **thaw(document.body)}


def document_of_grant(grant: EntityGrant) -> str | dict[str, str]:
    """Returns a grant as written: one scope when every action has it, else the actions not 'none'."""
    scopes = [grant.scope(action) for action in ACTIONS]
    if len(set(scopes)) == 1:
        return scopes[0]
    return {action: scope for action, scope in zip(ACTIONS, scopes, strict=True) if scope != "none"}


def document_of_role(role: Role) -> dict[str, Any]:
    return _compact([
        ("name", role.name), ("label", document_of_label(role.label)),
        ("description", document_of_label(role.description)),
        ("permissions", {entity: document_of_grant(g) for entity, g in role.permissions.items()} or None),
        ("field_access", thaw(role.field_access) or None),
        ("rights", list(role.rights)),
    ])


def document_of_app(app: AppDef) -> dict[str, Any]:
    return _compact([
        ("name", app.name), ("version", app.version), ("label", document_of_label(app.label)),
        ("description", document_of_label(app.description)),
        ("roles", [document_of_role(r) for r in app.roles]),
        ("navigation", [_compact([("name", g.name), ("label", document_of_label(g.label)),
                                  ("icon", g.icon),
                                  ("items", [_compact([("entity", i.entity), ("view", i.view)])
                                             for i in g.items])])
                        for g in app.navigation]),
    ])
