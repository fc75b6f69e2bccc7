"""A list's state as its query string carries it: view, filters (AND / OR), sort, columns, search, page.

Query string: `view`, parallel `f`/`op`/`v` (a filter per triple; list values comma-separated),
`match=any` for OR, `sort=a,-b`, `cols=a,b`, `q`, `cursor` and `start` (rows before this page).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.query import OPERATORS
from engine.views import SavedView
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
        if state.cursor:
            args["cursor"] = state.cursor
            args["start"] = state.start
        return args

    def saved_state(self) -> dict[str, Any]:
        """Returns what a saved view keeps of this list: everything but the page."""
        return {"filters": [[c.field, c.op, c.value] for c in self.filters], "match": self.match,
                "sort": [[k.field, k.direction] for k in self.sort], "columns": list(self.columns),
                "q": self.q}


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
    return ListState(view=view_name, filters=filters, match=match, sort=sort,
                     columns=tuple(c for c in columns if _is_column(entity, c)),
                     q=args.get("q", "").strip() or base.q, cursor=args.get("cursor") or None,
                     start=int(start) if start.isdigit() else 0, explicit=frozenset(explicit))


def _padded(args: MultiDict) -> list[str]:
    values = args.getlist("v")
    return values + [""] * (len(args.getlist("f")) - len(values))


def _is_column(entity: EntityDef, name: str) -> bool:
    return name in SYSTEM_LIST_COLUMNS or entity.has_field(name)


def _view_state(entity: EntityDef, view_name: str, saved: SavedView | None) -> ListState:
    if saved is not None:
        s = saved.state
        return ListState(
            filters=tuple(Condition(f, op, v) for f, op, v in s.get("filters", [])),
            match=s.get("match", "all"), sort=tuple(SortKey(f, d) for f, d in s.get("sort", [])),
            columns=tuple(s.get("columns") or default_columns(entity)), q=s.get("q", ""))
    view = find_view(entity, view_name) or default_view(entity)
    if view is None:
        return ListState(columns=default_columns(entity))
    return ListState(filters=view.filters, sort=view.sort, columns=view.columns or default_columns(entity))


def filterable_fields(entity: EntityDef) -> list:
    """Returns the fields a filter may name: stored ones (computed fields have no column)."""
    return [f for f in entity.fields if field_type(f.type).stored and f.type != "file"]


def sortable(entity: EntityDef, column: str) -> bool:
    if column in SYSTEM_LIST_COLUMNS:
        return True
    return entity.has_field(column) and field_type(entity.field(column).type).stored
