"""Formulas in metadata type-checked with the `formula` package, and cycles among computed fields.

`formula_fields` gives the {name: type} mapping a formula of an entity may read; the engine uses it too.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from formula import FormulaError
from formula import compile as compile_formula
from formula.limits import check_length
from metamodel.context import CheckContext, EntitySource
from metamodel.fieldtypes import FIELD_TYPES
from metamodel.issues import MetadataIssue
from metamodel.model import AppDef, EntityDef

NUMERIC = frozenset({"number", "currency", "percent"})
# System columns a formula may read; the user-valued ones read as a nested user record.
USER_FIELDS = {"id": "number", "name": "text", "email": "text"}
SYSTEM_FIELDS: dict[str, Any] = {
    "id": "number", "created_at": "datetime", "updated_at": "datetime",
    "owner": USER_FIELDS, "created_by": USER_FIELDS, "updated_by": USER_FIELDS,
}
# Starts only where a name starts, and never gives back what a name matched: linear in the text.
_DOTTED = re.compile(r"(?<![A-Za-z0-9_.])[A-Za-z_][A-Za-z0-9_]*+(?:\.[A-Za-z_][A-Za-z0-9_]*+)+")


def formula_fields(app: AppDef, entity: str, source: str = "") -> dict[str, Any]:
    """Returns {name: type name | nested mapping} of what a formula on `entity` may read.

    Every field of the entity is there; a lookup is a mapping of its target's fields, opened
    further only along the dotted paths `source` mentions (lookups can form loops).
    """
    check_length(source)   # before any scan of the text
    wanted = {tuple(p.lower().split(".")) for p in _DOTTED.findall(source)}
    return _fields_of(app, app.entity(entity), wanted)


def _fields_of(app: AppDef, entity: EntityDef, wanted: set[tuple[str, ...]]) -> dict[str, Any]:
    result: dict[str, Any] = dict(SYSTEM_FIELDS)
    for f in entity.fields:
        ftype = FIELD_TYPES[f.type]
        target = ftype.target_entity(f)
        if target is not None and target in app.entities:
            deeper = {p[1:] for p in wanted if len(p) > 2 and p[0] == f.name.lower()}
            result[f.name] = _scalar_fields(app.entities[target]) if not deeper else _fields_of(
                app, app.entities[target], deeper)
        elif ftype.foreign_key(f) is not None and target is None:
            result[f.name] = USER_FIELDS
        elif ftype.formula_type_of(f) is not None:
            result[f.name] = ftype.formula_type_of(f)
    return result


def _scalar_fields(entity: EntityDef) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": "number", "created_at": "datetime", "updated_at": "datetime"}
    for f in entity.fields:
        kind = FIELD_TYPES[f.type].formula_type_of(f)
        if kind is not None:
            fields[f.name] = kind
    return fields


@dataclass(frozen=True)
class FormulaSite:
    """One formula in the metadata: where it is, the entity it reads, and the type it must give."""
    file: str
    path: str
    entity: str
    source: str
    returns: str | None
    blank_as_zero: bool = False
    owner: str | None = None   # the computed field it defines, for cycle detection
    # Result types the place takes when `returns` is None: a flow assigning a picklist field
    # takes its values as text, a lookup or user field takes an id. Empty: any type.
    accepts: frozenset[str] = frozenset()
    in_sql: bool = False       # computed in the SELECT of every list (formula fields, rollup filters)


def formula_sites(ctx: CheckContext) -> Iterator[FormulaSite]:
    """Yields every formula of every entity: formula fields, defaults, rules, layouts, rollup filters."""
    for source in ctx.entities:
        yield from _field_sites(ctx, source)
        entity, file = source.entity, source.file
        for i, rule in enumerate(entity.validation_rules):
            yield FormulaSite(file, f"/validation_rules/{i}/condition", entity.name, rule.condition, "boolean")
        for i, layout in enumerate(entity.layouts):
            for j, section in enumerate(layout.sections):
                base = f"/layouts/{i}/sections/{j}"
                if section.visible_if:
                    yield FormulaSite(file, f"{base}/visible_if", entity.name, section.visible_if, "boolean")
                for k, item in enumerate(section.fields):
                    for key in ("visible_if", "required_if"):
                        text = getattr(item, key)
                        if text:
                            yield FormulaSite(file, f"{base}/fields/{k}/{key}", entity.name, text, "boolean")


def _field_sites(ctx: CheckContext, source: EntitySource) -> Iterator[FormulaSite]:
    entity, file = source.entity, source.file
    for path, f in ctx.fields_of(source):
        ftype = FIELD_TYPES[f.type]
        if f.option("expression"):
            yield FormulaSite(file, f"{path}/expression", entity.name, f.option("expression"),
                              ftype.formula_type_of(f), bool(f.option("blank_as_zero")), owner=f.name,
                              in_sql=True)
        if f.default_formula:
            yield FormulaSite(file, f"{path}/default_formula", entity.name, f.default_formula,
                              ftype.formula_type_of(f))
        child = f.option("child")
        if f.option("filter") and child in ctx.app.entities:
            yield FormulaSite(file, f"{path}/filter", child, f.option("filter"), "boolean", in_sql=True)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _reads_broken_part(ctx: CheckContext, site: FormulaSite) -> bool:
    """True when the formula names a field that failed the schema or points at a broken entity."""
    entity = ctx.app.entities[site.entity]
    broken = {name.lower() for name in ctx.broken_fields.get(site.entity, ())}
    broken |= {f.name.lower() for f in entity.fields
               if FIELD_TYPES[f.type].target_entity(f) in ctx.broken_entities}
    return bool(broken & {w.lower() for w in _WORD.findall(site.source)})


def _compatible(expected: str | None, actual: str) -> bool:
    if expected is None or actual in (expected, "null"):
        return True
    return expected in NUMERIC and actual in NUMERIC


def check_formulas(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Every formula compiles against its entity's fields and gives the type its place needs."""
    for site in formula_sites(ctx):
        yield from site_issues(ctx, site)


def site_issues(ctx: CheckContext, site: FormulaSite) -> Iterator[MetadataIssue]:
    """Yields what is wrong with one formula: it does not compile, or gives the wrong type."""
    try:
        check_length(site.source)   # before any scan of the text, so a huge formula costs nothing
    except FormulaError as error:
        yield MetadataIssue(site.file, site.path, f"{error.message} (line {error.line}, column {error.column})")
        return
    if _reads_broken_part(ctx, site):
        return  # the schema issue of that part is reported; its formula is checked once fixed
    fields = formula_fields(ctx.app, site.entity, site.source)
    try:
        compiled = compile_formula(site.source, fields, blank_as_zero=site.blank_as_zero,
                                   returns=site.returns)
    except FormulaError as error:
        yield MetadataIssue(site.file, site.path,
                            f"{error.message} (line {error.line}, column {error.column})")
        return
    if site.in_sql:
        import sqlalchemy as sa  # only to name placeholder columns: no database is involved

        try:
            compiled.to_sql({path: sa.column(path.replace(".", "__")) for path in compiled.paths})
        except FormulaError as error:
            yield MetadataIssue(site.file, site.path,
                                f"{error.message} (line {error.line}, column {error.column})")
            return
    if not _compatible(site.returns, compiled.type):
        yield MetadataIssue(site.file, site.path,
                            f"the formula gives {compiled.type}, but {site.returns} is needed")
    elif site.accepts and compiled.type not in (*site.accepts, "null"):
        yield MetadataIssue(site.file, site.path,
                            f"the formula gives {compiled.type}, but {' or '.join(sorted(site.accepts))} "
                            "is needed")


def check_formula_cycles(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Computed fields do not depend on themselves, directly or through other computed fields."""
    graph: dict[tuple[str, str], list[tuple[str, str]]] = {}
    where: dict[tuple[str, str], FormulaSite] = {}
    for site in formula_sites(ctx):
        if site.owner is None:
            continue
        try:
            compiled = compile_formula(site.source, formula_fields(ctx.app, site.entity, site.source),
                                       blank_as_zero=site.blank_as_zero, returns=site.returns)
        except FormulaError:
            continue  # reported by check_formulas
        node = (site.entity, site.owner)
        where[node] = site
        graph[node] = [dep for p in compiled.paths if (dep := _computed_at(ctx.app, site.entity, p))]
    _add_rollup_edges(ctx, graph)
    yield from _cycle_issues(graph, where)


def _computed_at(app: AppDef, entity_name: str, path: str) -> tuple[str, str] | None:
    """Returns (entity, field) of the computed field at the end of a dotted path, else None."""
    entity = app.entities.get(entity_name)
    head, _, rest = path.partition(".")
    match = next((f for f in entity.fields if f.name.lower() == head.lower()), None) if entity else None
    if match is None:
        return None
    ftype = FIELD_TYPES[match.type]
    if rest:
        target = ftype.target_entity(match)
        return _computed_at(app, target, rest) if target else None
    return None if ftype.stored else (entity.name, match.name)


def _add_rollup_edges(ctx: CheckContext, graph: dict[tuple[str, str], list[tuple[str, str]]]) -> None:
    for source in ctx.entities:
        for _, f in ctx.fields_of(source):
            child, name = f.option("child"), f.option("field")
            if child and name and f.option("via"):
                dep = _computed_at(ctx.app, child, name)
                graph.setdefault((source.entity.name, f.name), []).extend([dep] if dep else [])


def _cycle_issues(graph: dict[tuple[str, str], list[tuple[str, str]]],
                  where: dict[tuple[str, str], FormulaSite]) -> Iterator[MetadataIssue]:
    reported: set[frozenset[tuple[str, str]]] = set()
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for dep in graph.get(node, ()):
                if dep == start and frozenset(trail) not in reported:
                    reported.add(frozenset(trail))
                    names = " -> ".join(f"{e}.{n}" for e, n in [*trail, start])
                    site = where.get(start)
                    file = site.file if site else f"entities/{start[0]}.json"
                    yield MetadataIssue(file, site.path if site else "",
                                        f"formula cycle: {names}", "a computed field cannot depend on itself")
                elif dep not in trail:
                    stack.append((dep, [*trail, dep]))
