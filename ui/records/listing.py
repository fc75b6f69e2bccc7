"""A list's state as its query string carries it: view, filters (AND / OR), sort, columns, search, page.

Query string: `view`, parallel `f`/`op`/`v` (a filter per triple; list values comma-separated),
`match=any` for OR, `formula` (a boolean formula), `sort=a,-b`, `cols=a,b` (lookup paths such as
`account.name` allowed), `q`, `cursor` or `before` (the page after / before) and `start` (rows before
this page).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.data.query import OPERATORS
from engine.data.views import SavedView
from metamodel.fieldtypes import field_type
from metamodel.model import Condition, EntityDef, ListView, SortKey

SYSTEM_LIST_COLUMNS = ("owner_id", "created_at", "updated_at")


@dataclass(frozen=True)
class ListState:
    view: str = ""
    filters: tuple[Condition, ...] = ()
    match: str = "all"
    sort: tuple[SortKey, ...] = ()
    columns: tuple[str, ...] = ()
    q: str = ""
    cursor: str | None = None
    start: int = 0
    formula: str = ""
    before: str | None = None
    # Which parts the query string set explicitly (the rest come from the view).
    explicit: frozenset[str] = field(default_factory=frozenset)

    @property
    def all_of(self) -> tuple[Condition, ...]:
        return self.filters if self.match == "all" else ()

    @property
    def any_of(self) -> tuple[Condition, ...]:
        return self.filters if self.match == "any" else ()

    def sort_direction(self, column: str) -> str | None:
        """'asc' or 'desc' when the list is sorted first by `column`, else None."""
        if self.sort and self.sort[0].field == column:
            return self.sort[0].direction
        return None

    def to_args(self, **changes: Any) -> dict[str, Any]:
        """Returns the query-string arguments of this state (with `changes`), for url_for."""
        state = replace(self, **changes) if changes else self
        args: dict[str, Any] = {}
        if state.view:
            args["view"] = state.view
        if "filters" in state.explicit or "filters" in changes:
            args["f"] = [c.field for c in state.filters]
            args["op"] = [c.op for c in state.filters]
            args["v"] = [encode_value(c.value) for c in state.filters]
            args["fb"] = "1"
        if state.match == "any":
            args["match"] = "any"
        if "sort" in state.explicit or "sort" in changes:
            args["sort"] = encode_sort(state.sort)
        if "columns" in state.explicit or "columns" in changes:
            args["cols"] = ",".join(state.columns)
        if state.q:
            args["q"] = state.q
        if state.formula:
            args["formula"] = state.formula
        if state.cursor or state.before:
            args["cursor" if state.cursor else "before"] = state.cursor or state.before
            args["start"] = state.start
        return args

    def page_args(self, **changes: Any) -> dict[str, Any]:
        """The query-string arguments of the same list on another page (cursor, before, start)."""
        return self.to_args(**{"cursor": None, "before": None, **changes})

    def saved_state(self) -> dict[str, Any]:
        """Returns what a saved view keeps of this list: everything but the page."""
        return {"filters": [[c.field, c.op, c.value] for c in self.filters], "match": self.match,
                "sort": [[k.field, k.direction] for k in self.sort], "columns": list(self.columns),
                "q": self.q, "formula": self.formula}


def encode_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_sort(keys: tuple[SortKey, ...]) -> str:
    return ",".join(("-" if k.direction == "desc" else "") + k.field for k in keys)


def decode_sort(text: str) -> tuple[SortKey, ...]:
    keys = []
    for part in text.split(","):
        part = part.strip()
        if part:
            keys.append(SortKey(part.lstrip("-"), "desc" if part.startswith("-") else "asc"))
    return tuple(keys)


def decode_value(op: str, text: str) -> Any:
    arity = OPERATORS[op].arity if op in OPERATORS else "one"
    if arity == "none":
        return None
    if arity in ("many", "two"):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def default_view(entity: EntityDef) -> ListView | None:
    return entity.list_views[0] if entity.list_views else None


def find_view(entity: EntityDef, name: str) -> ListView | None:
    return next((v for v in entity.list_views if v.name == name), None)


def default_columns(entity: EntityDef) -> tuple[str, ...]:
    shown = [f.name for f in entity.fields if f.type not in ("textarea", "file")]
    return tuple(shown[:6])


def parse_state(args: MultiDict, entity: EntityDef, saved: SavedView | None) -> ListState:
    """Returns the list state: the query string's explicit parts over the chosen view's defaults."""
    view_name = args.get("view", "")
    base = _view_state(entity, view_name, saved)
    explicit = set()
    filters, match, sort, columns = base.filters, base.match, base.sort, base.columns
    if "fb" in args or "f" in args:
        filters = tuple(Condition(f, op, decode_value(op, v))
                        for f, op, v in zip(args.getlist("f"), args.getlist("op"), _padded(args), strict=False)
                        if f and op)
        match = "any" if args.get("match") == "any" else "all"
        explicit.add("filters")
    elif "match" in args:
        match = "any" if args.get("match") == "any" else "all"
    if "sort" in args:
        sort = decode_sort(args["sort"])
        explicit.add("sort")
    if args.get("cols"):
        chosen = tuple(c for c in args["cols"].split(",") if _is_column(entity, c))
        columns = chosen or columns
        explicit.add("columns")
    start = args.get("start", "0")
    formula = args["formula"].strip() if "formula" in args else base.formula
    return ListState(view=view_name, filters=filters, match=match, sort=sort,
                     columns=tuple(c for c in columns if _is_column(entity, c)),
                     q=args.get("q", "").strip() or base.q, cursor=args.get("cursor") or None,
                     before=None if args.get("cursor") else args.get("before") or None,
                     start=int(start) if start.isdigit() else 0, formula=formula, explicit=frozenset(explicit))


def _padded(args: MultiDict) -> list[str]:
    values = args.getlist("v")
    return values + [""] * (len(args.getlist("f")) - len(values))


def _is_column(entity: EntityDef, name: str) -> bool:
    if "." in name:
        return lookup_path_field(entity, name) is not None
    return name in SYSTEM_LIST_COLUMNS or entity.has_field(name)


def lookup_path_field(entity: EntityDef, path: str):
    """The target's field a one-hop lookup path names ("account.name"), else None."""
    from ui.context import registry

    head, _, rest = path.partition(".")
    if not rest or "." in rest or not entity.has_field(head):
        return None
    target = field_type(entity.field(head).type).target_entity(entity.field(head))
    if target is None or target not in registry().entities:
        return None
    hop = registry().entity(target)
    return hop.field(rest) if hop.has_field(rest) and hop.field(rest).type != "file" else None


def _view_state(entity: EntityDef, view_name: str, saved: SavedView | None) -> ListState:
    if saved is not None:
        s = saved.state
        return ListState(
            filters=tuple(Condition(f, op, v) for f, op, v in s.get("filters", [])),
            match=s.get("match", "all"), sort=tuple(SortKey(f, d) for f, d in s.get("sort", [])),
            columns=tuple(s.get("columns") or default_columns(entity)), q=s.get("q", ""),
            formula=s.get("formula", ""))
    view = find_view(entity, view_name) or default_view(entity)
    if view is None:
        return ListState(columns=default_columns(entity))
    return ListState(filters=view.filters, sort=view.sort, columns=view.columns or default_columns(entity))


def filterable_fields(entity: EntityDef) -> list:
    """Returns the fields a filter may name: every field but files (formulas and rollups compare
    as the type they give)."""
    return [f for f in entity.fields if f.type != "file"]


def sortable(entity: EntityDef, column: str) -> bool:
    """Whether the list can sort on `column`: system columns and the entity's own fields (the
    engine does not sort across lookups)."""
    if column in SYSTEM_LIST_COLUMNS:
        return True
    return entity.has_field(column) and entity.field(column).type != "file"
