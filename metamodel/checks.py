"""Semantic checks of an app: what a JSON Schema cannot say (names, references, values, cycles).

Each check is a small generator over a CheckContext yielding every issue it finds, with its path.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from metamodel.context import CheckContext, EntitySource
from metamodel.fieldtypes import FIELD_TYPES, FieldValueError
from metamodel.issues import MetadataIssue, did_you_mean
from metamodel.model import ANY_ENTITY, SYSTEM_COLUMNS, EntityDef, FieldDef

Check = Callable[[CheckContext], Iterator[MetadataIssue]]

NAME = re.compile(r"[a-z][a-z0-9_]*")
MAX_NAME = 63  # PostgreSQL's identifier limit: names become tables, columns and indexes
RESERVED_PREFIX = "fw_"
NAV_VIEWS = ("list", "kanban")


# -- names ------------------------------------------------------------------------------------
def name_problem(name: str, *, column: bool = False) -> tuple[str, str | None] | None:
    """Returns (message, suggestion) when `name` is not a legal name, else None."""
    if column and name in SYSTEM_COLUMNS:
        return f"{name!r} is a system column name", f"choose another name, e.g. '{name}_value'"
    if name.startswith(RESERVED_PREFIX):
        return f"{name!r} begins with 'fw_', which is reserved for the system", None
    if len(name) > MAX_NAME:
        return f"{name!r} is longer than {MAX_NAME} characters", None
    if NAME.fullmatch(name):
        return None
    legal = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
    legal = legal if NAME.fullmatch(legal) else None
    return (f"{name!r} is not a legal name: use lowercase letters, digits and underscores, "
            "starting with a letter", f"did you mean {legal!r}?" if legal else None)


def _named(file: str, items: Iterable[tuple[str, str]], *, column: bool = False,
           ) -> Iterator[MetadataIssue]:
    """Yields issues for illegal and repeated names among (JSON pointer of name, name) pairs."""
    seen: set[str] = set()
    for path, name in items:
        problem = name_problem(name, column=column)
        if problem:
            yield MetadataIssue(file, path, *problem)
        elif name in seen:
            yield MetadataIssue(file, path, f"{name!r} is used twice", "names must be unique")
        seen.add(name)


def check_names(ctx: CheckContext) -> Iterator[MetadataIssue]:
    if ctx.app_ok:
        yield from _named("app.json", [("/name", ctx.app.name)])
        yield from _named("app.json", ((f"/roles/{i}/name", r.name) for i, r in enumerate(ctx.app.roles)))
        yield from _named("app.json", ((f"/navigation/{i}/name", g.name)
                                       for i, g in enumerate(ctx.app.navigation)))
    yield from _named_entities(ctx)
    for source in ctx.entities:
        entity, file = source.entity, source.file
        yield from _named(file, ((f"{path}/name", f.name) for path, f in ctx.fields_of(source)), column=True)
        yield from _named(file, ((f"/layouts/{i}/name", lay.name) for i, lay in enumerate(entity.layouts)))
        for i, layout in enumerate(entity.layouts):
            yield from _named(file, ((f"/layouts/{i}/sections/{j}/name", s.name)
                                     for j, s in enumerate(layout.sections)))
        yield from _named(file, ((f"/list_views/{i}/name", v.name) for i, v in enumerate(entity.list_views)))
        yield from _named(file, ((f"/validation_rules/{i}/name", r.name)
                                 for i, r in enumerate(entity.validation_rules)))
    # Index names share one namespace per database schema in PostgreSQL, so unique app-wide.
    seen: set[str] = set()
    for source in ctx.entities:
        for i, index in enumerate(source.entity.indexes):
            path = f"/indexes/{i}/name"
            problem = name_problem(index.name)
            if problem:
                yield MetadataIssue(source.file, path, *problem)
            elif index.name in seen:
                yield MetadataIssue(source.file, path, f"index name {index.name!r} is used twice in the app",
                                    "index names must be unique across the app")
            seen.add(index.name)


def _named_entities(ctx: CheckContext) -> Iterator[MetadataIssue]:
    counts = Counter(s.entity.name for s in ctx.entities)
    for source in ctx.entities:
        name = source.entity.name
        problem = name_problem(name)
        if problem:
            yield MetadataIssue(source.file, "/name", *problem)
        elif counts[name] > 1:
            yield MetadataIssue(source.file, "/name", f"entity {name!r} is defined in more than one file")


def check_file_names(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """An entity, flow, report or dashboard lives in the file named after it."""
    pairs = [(s.file, s.entity.name) for s in ctx.entities] + [(d.file, d.document.name) for d in ctx.documents]
    for file, name in pairs:
        folder, _, base = file.rpartition("/")
        if base != f"{name}.json":
            yield MetadataIssue(file, "/name", f"the name {name!r} does not match the file name",
                                f"rename the file to {folder}/{name}.json or the name to {base[:-5]!r}")


# -- fields -----------------------------------------------------------------------------------
def check_references(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Lookups and master-detail fields point at entities of the app."""
    for source in ctx.entities:
        for path, f in ctx.fields_of(source):
            target = FIELD_TYPES[f.type].target_entity(f)
            problem = ctx.unknown_entity(target) if target else None
            if problem:
                yield MetadataIssue(source.file, f"{path}/target", *problem)


def check_choices(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Picklist values are unique within their field."""
    for source in ctx.entities:
        for path, f in ctx.fields_of(source):
            counts = Counter(choice["value"] for choice in f.option("values", ()))
            for i, choice in enumerate(f.option("values", ())):
                if counts[choice["value"]] > 1:
                    yield MetadataIssue(source.file, f"{path}/values/{i}/value",
                                        f"the value {choice['value']!r} is listed twice")
                    counts[choice["value"]] = 0  # report each repeat once


def value_problem(f: FieldDef, raw: Any) -> str | None:
    """Returns why `raw` is not a valid value for field `f`, or None when it is."""
    ftype = FIELD_TYPES[f.type]
    try:
        value = ftype.coerce(f, raw)
    except FieldValueError as error:
        return error.message
    problems = ftype.check_value(f, value)
    return problems[0] if problems else None


def about_value(value: Any, problem: str) -> str:
    """Returns the problem with the value named first, unless the problem names it already."""
    return problem if repr(value) in problem else f"{value!r} {problem}"


def check_defaults(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """A default is a valid value of its field; a generated or computed field has none."""
    for source in ctx.entities:
        for path, f in ctx.fields_of(source):
            ftype = FIELD_TYPES[f.type]
            if f.default is not None and f.default_formula is not None:
                yield MetadataIssue(source.file, f"{path}/default",
                                    "a field has either a default or a default_formula, not both")
            if (ftype.generated or not ftype.stored) and (f.default is not None or f.default_formula):
                key = "default" if f.default is not None else "default_formula"
                yield MetadataIssue(source.file, f"{path}/{key}",
                                    f"{f.type} fields get their values from the system; remove the {key}")
                continue
            if f.default is not None:
                problem = value_problem(f, f.default)
                if problem:
                    yield MetadataIssue(source.file, f"{path}/default",
                                        f"the default {about_value(f.default, problem)}")


def check_rollups(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """A rollup names a child entity, the child's reference to this entity, and a child field."""
    for source in ctx.entities:
        for path, f in ctx.fields_of(source):
            if f.option("child") is not None and f.option("via") is not None:
                yield from _rollup_issues(ctx, source, path, f)


def _rollup_issues(ctx: CheckContext, source: EntitySource, path: str, f: FieldDef,
                   ) -> Iterator[MetadataIssue]:
    file, child_name = source.file, f.option("child")
    problem = ctx.unknown_entity(child_name)
    if problem:
        yield MetadataIssue(file, f"{path}/child", *problem)
        return
    child = ctx.app.entities.get(child_name)
    if child is None:
        return
    via_problem = ctx.unknown_field(child, f.option("via"))
    if via_problem:
        yield MetadataIssue(file, f"{path}/via", *via_problem)
    elif child.has_field(f.option("via")):
        via = child.field(f.option("via"))
        if FIELD_TYPES[via.type].target_entity(via) != source.entity.name:
            yield MetadataIssue(file, f"{path}/via",
                                f"{child_name}.{via.name} does not point at {source.entity.name!r}",
                                f"use a lookup or master_detail field of {child_name} targeting it")
    function, field_name = f.option("function"), f.option("field")
    if function == "COUNT":
        if field_name is not None:
            yield MetadataIssue(file, f"{path}/field", "COUNT counts child records; remove 'field'")
        return
    if field_name is None:
        yield MetadataIssue(file, path, f"{function} needs the child 'field' to aggregate")
        return
    field_problem = ctx.unknown_field(child, field_name)
    if field_problem:
        yield MetadataIssue(file, f"{path}/field", *field_problem)
        return
    if not child.has_field(field_name):
        return
    child_field = child.field(field_name)
    kind = _formula_type(child_field)
    allowed = ("number", "currency", "percent") if function == "SUM" else (
        "number", "currency", "percent", "date", "datetime")
    if kind not in allowed:
        yield MetadataIssue(file, f"{path}/field",
                            f"{function} cannot aggregate {child_name}.{field_name} ({child_field.type})",
                            f"choose a field of type {', '.join(allowed)}")


# -- entity parts -----------------------------------------------------------------------------
def check_title_fields(ctx: CheckContext) -> Iterator[MetadataIssue]:
    for source in ctx.entities:
        title = source.entity.title_field
        problem = ctx.unknown_field(source.entity, title) if title else None
        if problem:
            yield MetadataIssue(source.file, "/title_field", *problem)


def check_layouts(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Layouts name fields of their entity, each at most once per layout."""
    for source in ctx.entities:
        for i, layout in enumerate(source.entity.layouts):
            placed: set[str] = set()
            for j, section in enumerate(layout.sections):
                for k, item in enumerate(section.fields):
                    path = f"/layouts/{i}/sections/{j}/fields/{k}"
                    problem = ctx.unknown_field(source.entity, item.field, system=True)
                    if problem:
                        yield MetadataIssue(source.file, path, *problem)
                    elif item.field in placed:
                        yield MetadataIssue(source.file, path,
                                            f"{item.field!r} appears twice in layout {layout.name!r}")
                    placed.add(item.field)


_VALUE_SHAPES = {"is_blank": "none", "is_not_blank": "none", "in": "list", "not_in": "list",
                 "between": "pair"}


def check_list_views(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """List views name existing fields (or paths through lookups); kanbans group by a picklist."""
    for source in ctx.entities:
        entity = source.entity
        for i, view in enumerate(entity.list_views):
            base = f"/list_views/{i}"
            for j, column in enumerate(view.columns):
                yield from _path_issues(ctx, source, f"{base}/columns/{j}", column)
            for j, key in enumerate(view.sort):
                yield from _path_issues(ctx, source, f"{base}/sort/{j}/field", key.field)
            for j, condition in enumerate(view.filters):
                yield from _condition_issues(ctx, source, f"{base}/filters/{j}", condition)
            if view.stage_field:
                yield from _stage_field_issues(ctx, source, f"{base}/stage_field", view.stage_field)


def _path_issues(ctx: CheckContext, source: EntitySource, path: str, field_path: str,
                 ) -> Iterator[MetadataIssue]:
    _, problem = ctx.resolve_path(source.entity, field_path, system=True)
    if problem:
        yield MetadataIssue(source.file, path, *problem)


def _condition_issues(ctx: CheckContext, source: EntitySource, path: str, condition: Any,
                      ) -> Iterator[MetadataIssue]:
    found, problem = ctx.resolve_path(source.entity, condition.field, system=True)
    if problem:
        yield MetadataIssue(source.file, f"{path}/field", *problem)
        return
    shape, value = _VALUE_SHAPES.get(condition.op, "one"), condition.value
    if shape == "none":
        if value is not None:
            yield MetadataIssue(source.file, f"{path}/value", f"{condition.op} takes no value")
        return
    if shape in ("list", "pair") and not (isinstance(value, tuple) and value):
        yield MetadataIssue(source.file, f"{path}/value", f"{condition.op} takes a list of values")
        return
    if shape == "pair" and len(value) != 2:
        yield MetadataIssue(source.file, f"{path}/value", "between takes two values: [low, high]")
        return
    if found is None or not FIELD_TYPES[found.type].stored:
        return  # system columns and computed fields: the query layer converts their values
    values = value if shape in ("list", "pair") else (value,)
    for n, item in enumerate(values):
        problem_text = value_problem(found, item) if item is not None else f"{condition.op} needs a value"
        if problem_text:
            where = f"{path}/value/{n}" if shape in ("list", "pair") else f"{path}/value"
            yield MetadataIssue(source.file, where, about_value(item, problem_text))


def _stage_field_issues(ctx: CheckContext, source: EntitySource, path: str, name: str,
                        ) -> Iterator[MetadataIssue]:
    problem = ctx.unknown_field(source.entity, name)
    if problem:
        yield MetadataIssue(source.file, path, *problem)
    elif source.entity.has_field(name) and _formula_type(source.entity.field(name)) != "picklist":
        yield MetadataIssue(source.file, path, f"the stage field {name!r} must be a picklist",
                            "a kanban has one column per picklist value")


def _formula_type(f: FieldDef) -> str | None:
    return FIELD_TYPES[f.type].formula_type_of(f)


def check_indexes(ctx: CheckContext) -> Iterator[MetadataIssue]:
    for source in ctx.entities:
        for i, index in enumerate(source.entity.indexes):
            for j, name in enumerate(index.fields):
                problem = ctx.unknown_field(source.entity, name, system=True)
                if problem:
                    yield MetadataIssue(source.file, f"/indexes/{i}/fields/{j}", *problem)
                elif source.entity.has_field(name) and not FIELD_TYPES[source.entity.field(name).type].stored:
                    yield MetadataIssue(source.file, f"/indexes/{i}/fields/{j}",
                                        f"{name!r} is computed, so it cannot be indexed")


def check_validation_rules(ctx: CheckContext) -> Iterator[MetadataIssue]:
    for source in ctx.entities:
        for i, rule in enumerate(source.entity.validation_rules):
            problem = ctx.unknown_field(source.entity, rule.field) if rule.field else None
            if problem:
                yield MetadataIssue(source.file, f"/validation_rules/{i}/field", *problem)


# -- the app ----------------------------------------------------------------------------------
def check_navigation(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Navigation items name entities; `view` is list, kanban or one of the entity's list views."""
    if not ctx.app_ok:
        return
    for i, group in enumerate(ctx.app.navigation):
        for j, item in enumerate(group.items):
            path = f"/navigation/{i}/items/{j}"
            problem = ctx.unknown_entity(item.entity)
            if problem:
                yield MetadataIssue("app.json", f"{path}/entity", *problem)
                continue
            entity = ctx.app.entities.get(item.entity)
            if entity is not None and item.view is not None:
                yield from _nav_view_issues(entity, f"{path}/view", item.view)


def check_roles(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """A role's permissions and field limits name entities of the app and their fields."""
    if not ctx.app_ok:
        return
    for i, role in enumerate(ctx.app.roles):
        for entity_name in role.permissions:
            problem = None if entity_name == ANY_ENTITY else ctx.unknown_entity(entity_name)
            if problem:
                yield MetadataIssue("app.json", f"/roles/{i}/permissions/{entity_name}", *problem)
        for entity_name, fields in role.field_access.items():
            path = f"/roles/{i}/field_access/{entity_name}"
            problem = ctx.unknown_entity(entity_name)
            if problem:
                yield MetadataIssue("app.json", path, *problem)
                continue
            entity = ctx.app.entities.get(entity_name)
            for field_name in fields if entity is not None else ():
                problem = ctx.unknown_field(entity, field_name)
                if problem:
                    yield MetadataIssue("app.json", f"{path}/{field_name}", *problem)


def _nav_view_issues(entity: EntityDef, path: str, view: str) -> Iterator[MetadataIssue]:
    names = [v.name for v in entity.list_views]
    if view == "kanban" and not any(v.stage_field for v in entity.list_views):
        yield MetadataIssue("app.json", path, f"{entity.name!r} has no list view with a stage_field",
                            "add a stage_field (a picklist) to one of its list views")
    elif view not in (*NAV_VIEWS, *names):
        yield MetadataIssue("app.json", path, f"{view!r} is not a view of {entity.name!r}",
                            did_you_mean(view, [*NAV_VIEWS, *names]) or "use list, kanban or a list view name")


def check_master_detail_cycles(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Master-detail links form a forest: a record cannot be its own ancestor's detail."""
    parents: dict[str, list[tuple[str, str]]] = {}
    for source in ctx.entities:
        for path, f in ctx.fields_of(source):
            master = FIELD_TYPES[f.type].master_entity(f)
            if master is not None:
                parents.setdefault(source.entity.name, []).append((master, path))
    reported: set[frozenset[str]] = set()
    for start in sorted(parents):
        for cycle, path in _cycles_from(start, parents):
            if frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                yield MetadataIssue(ctx.file_of(start), path,
                                    "master-detail cycle: " + " -> ".join(cycle),
                                    "make one of these links a lookup")


def _cycles_from(start: str, parents: dict[str, list[tuple[str, str]]],
                 ) -> Iterator[tuple[list[str], str]]:
    """Yields (cycle through `start`, pointer of start's first link) found by depth-first search."""
    stack = [(start, [start], None)]
    while stack:
        node, trail, first = stack.pop()
        for parent, path in parents.get(node, ()):
            link = first or path
            if parent == start:
                yield [*trail, start], link
            elif parent not in trail:
                stack.append((parent, [*trail, parent], link))


def check_documents(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Flows, reports and dashboards that name an entity name one of the app's."""
    for source in ctx.documents:
        entity = source.document.entity
        problem = ctx.unknown_entity(entity) if entity else None
        if problem:
            yield MetadataIssue(source.file, "/entity", *problem)


def check_seed(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Seed files are named after an entity; their rows name its fields with valid values."""
    for file, entity_name in sorted(ctx.seed_files.items()):
        problem = ctx.unknown_entity(entity_name)
        if problem:
            yield MetadataIssue(file, "", *problem)
            continue
        entity = ctx.app.entities.get(entity_name)
        for i, row in enumerate(ctx.app.seed.get(entity_name, ()) if entity else ()):
            for key, raw in row.items():
                yield from _seed_value_issues(ctx, file, f"/{i}/{key}", entity, key, raw)


def _seed_value_issues(ctx: CheckContext, file: str, path: str, entity: EntityDef, key: str,
                       raw: Any) -> Iterator[MetadataIssue]:
    problem = ctx.unknown_field(entity, key, system=True)
    if problem:
        yield MetadataIssue(file, path, *problem)
        return
    if not entity.has_field(key):
        return
    f = entity.field(key)
    if FIELD_TYPES[f.type].target_entity(f) is not None:
        return  # seed rows may link records by id or by title; the installer resolves them
    problem_text = value_problem(f, raw)
    if problem_text:
        yield MetadataIssue(file, path, about_value(raw, problem_text))


CHECKS: tuple[Check, ...] = (
    check_names, check_file_names, check_references, check_choices, check_defaults, check_rollups,
    check_title_fields, check_layouts, check_list_views, check_indexes, check_validation_rules,
    check_navigation, check_roles, check_master_detail_cycles, check_documents, check_seed,
)
