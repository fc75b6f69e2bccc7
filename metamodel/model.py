"""Immutable, loaded metadata: apps, entities, fields, layouts and list views.

The loader builds these from JSON documents once; the runtime reads them and never touches raw dicts.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metamodel.flows import FlowDef

Label = Mapping[str, str]   # locale -> text; always has "en"

SYSTEM_COLUMNS = ("id", "owner_id", "created_at", "created_by", "updated_at", "updated_by",
                  "version", "deleted_at")


def label_text(label: Label | None, locale: str = "en") -> str:
    """Returns the label in `locale`, falling back to English, then to any text it has."""
    if not label:
        return ""
    return label.get(locale) or label.get("en") or next(iter(label.values()), "")


def entity_label(entity: EntityDef, locale: str = "en") -> str:
    """Returns the entity's label in `locale` ("Opportunity"), for messages about one record."""
    return label_text(entity.label, locale) or entity.name


def plural_label(entity: EntityDef, locale: str = "en") -> str:
    """Returns the entity's plural label in `locale` ("Opportunities"), for messages about several."""
    return label_text(entity.plural_label, locale) or entity_label(entity, locale)


def frozen_mapping(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(data or {}))


def deep_freeze(value: Any) -> Any:
    """Returns `value` (parsed JSON) with every dict made a read-only mapping and every list a tuple."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: deep_freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(deep_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Returns plain JSON data (dicts and lists) from a value made by `deep_freeze`."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class FieldDef:
    """One field of an entity. `options` holds the type-specific keys (max_length, values, target...)."""
    name: str
    type: str
    label: Label
    help: Label | None = None
    required: bool = False
    unique: bool = False
    indexed: bool = False
    read_only: bool = False
    default: Any = None
    default_formula: str | None = None
    renamed_from: str | None = None
    options: Mapping[str, Any] = dc_field(default_factory=frozen_mapping)
    # The formula type of a computed field's result, resolved by the loader across entities
    # (a rollup's type is its child field's); None for stored fields and hand-built FieldDefs.
    result_type: str | None = None

    def option(self, key: str, fallback: Any = None) -> Any:
        return self.options.get(key, fallback)


@dataclass(frozen=True)
class IndexDef:
    name: str
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class ValidationRule:
    name: str
    condition: str
    message: Label
    field: str | None = None


@dataclass(frozen=True)
class LayoutField:
    field: str
    visible_if: str | None = None
    required_if: str | None = None


@dataclass(frozen=True)
class Section:
    name: str
    label: Label | None
    columns: int
    collapsed: bool
    fields: tuple[LayoutField, ...]
    visible_if: str | None = None


@dataclass(frozen=True)
class Layout:
    name: str
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class Condition:
    """A filter condition `field op value`; the query layer turns it into SQL."""
    field: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class SortKey:
    field: str
    direction: str = "asc"


@dataclass(frozen=True)
class ListView:
    name: str
    label: Label
    columns: tuple[str, ...]
    sort: tuple[SortKey, ...] = ()
    filters: tuple[Condition, ...] = ()
    stage_field: str | None = None


@dataclass(frozen=True)
class ConversionPart:
    """One record a conversion makes (or, for the account, may attach to instead).

    `set` maps each field of the new record to a formula over the converted record (a bare field
    name is a formula too); `form` lists the fields the conversion dialog shows (default: those of
    `set`); `link` is the converted record's lookup that remembers it.
    """
    entity: str
    link: str
    set: Mapping[str, str] = dc_field(default_factory=frozen_mapping)
    form: tuple[str, ...] = ()
    account_field: str | None = None    # contact, opportunity: their lookup to the account
    contact_field: str | None = None    # opportunity: its lookup to the contact
    match: tuple[str, ...] = ()         # account: fields compared to offer likely existing accounts

    @property
    def form_fields(self) -> tuple[str, ...]:
        return self.form or tuple(self.set)


@dataclass(frozen=True)
class ConversionDef:
    """How a record (a lead) converts into an account, a contact and optionally an opportunity,
    and how the converted record is marked: its status value, the time and a link to each."""
    status_field: str
    status_value: str
    converted_at: str
    account: ConversionPart
    contact: ConversionPart
    opportunity: ConversionPart | None = None
    allowed_from: tuple[str, ...] = ()   # status values a record may be converted from; empty: any

    @property
    def parts(self) -> tuple[tuple[str, ConversionPart], ...]:
        """(role, part) of every record the conversion may make, in the order they are written."""
        found = [("account", self.account), ("contact", self.contact)]
        if self.opportunity is not None:
            found.append(("opportunity", self.opportunity))
        return tuple(found)

    def is_converted(self, record: Mapping[str, Any]) -> bool:
        """Whether `record` was converted: it has a conversion time or the converted status."""
        return record.get(self.converted_at) is not None or record.get(self.status_field) == self.status_value


@dataclass(frozen=True)
class EntityDef:
    name: str
    label: Label
    plural_label: Label
    fields: tuple[FieldDef, ...]
    icon: str | None = None
    title_field: str | None = None
    renamed_from: str | None = None
    indexes: tuple[IndexDef, ...] = ()
    validation_rules: tuple[ValidationRule, ...] = ()
    layouts: tuple[Layout, ...] = ()
    list_views: tuple[ListView, ...] = ()
    conversion: ConversionDef | None = None

    def field(self, name: str) -> FieldDef:
        """Returns the field called `name`; raises KeyError naming the entity when there is none."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"entity {self.name!r} has no field {name!r}")

    def has_field(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)

    @property
    def title(self) -> str:
        if self.title_field:
            return self.title_field
        return next((f.name for f in self.fields if f.type == "text"), "id")


SCOPES = ("none", "own", "department", "department_and_below", "all")   # narrowest to widest
ACTIONS = ("create", "read", "update", "delete")
FIELD_ACCESS = ("hidden", "read_only")
RIGHTS = ("metadata", "users", "flows", "import", "export", "api", "audit")
ANY_ENTITY = "*"


@dataclass(frozen=True)
class EntityGrant:
    """What a role may do with one entity's records: a scope per action (see SCOPES)."""
    create: str = "none"
    read: str = "none"
    update: str = "none"
    delete: str = "none"

    def scope(self, action: str) -> str:
        return getattr(self, action)


@dataclass(frozen=True)
class Role:
    """A role: its grants per entity (ANY_ENTITY for the rest), field limits and admin rights."""
    name: str
    label: Label
    description: Label | None = None
    permissions: Mapping[str, EntityGrant] = dc_field(default_factory=frozen_mapping)
    field_access: Mapping[str, Mapping[str, str]] = dc_field(default_factory=frozen_mapping)
    rights: tuple[str, ...] = ()


@dataclass(frozen=True)
class NavItem:
    entity: str
    view: str | None = None


@dataclass(frozen=True)
class NavGroup:
    name: str
    label: Label
    icon: str | None
    items: tuple[NavItem, ...]


@dataclass(frozen=True)
class Document:
    """A flow, report, dashboard or email template document: its envelope checked, its body kept
    for its engine."""
    name: str
    kind: str | None
    entity: str | None
    label: Label | None
    body: Mapping[str, Any]
    version: int | str | None = None


@dataclass(frozen=True)
class AppDef:
    name: str
    version: str
    label: Label
    entities: Mapping[str, EntityDef]
    description: Label | None = None
    roles: tuple[Role, ...] = ()
    navigation: tuple[NavGroup, ...] = ()
    flows: Mapping[str, Document] = dc_field(default_factory=frozen_mapping)
    # The same flows parsed for the flow engine, by name (`flows` keeps them as written, for export).
    flow_definitions: Mapping[str, FlowDef] = dc_field(default_factory=frozen_mapping)
    reports: Mapping[str, Document] = dc_field(default_factory=frozen_mapping)
    dashboards: Mapping[str, Document] = dc_field(default_factory=frozen_mapping)
    # Mail an email action sends: name -> its document (subject and body per language in `body`).
    email_templates: Mapping[str, Document] = dc_field(default_factory=frozen_mapping)
    seed: Mapping[str, tuple[Mapping[str, Any], ...]] = dc_field(default_factory=frozen_mapping)

    def entity(self, name: str) -> EntityDef:
        try:
            return self.entities[name]
        except KeyError:
            raise KeyError(f"app {self.name!r} has no entity {name!r}") from None
