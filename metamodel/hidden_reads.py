"""Formula and rollup fields that read a field a role of the app hides: a warning, not an error.

The runtime hides such a computed field from that role (its value would reveal the hidden one), so
the consultant hears it when the app is validated rather than from a puzzled user.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from formula import FormulaError
from formula import compile as compile_formula
from metamodel.context import CheckContext, EntitySource
from metamodel.formula_checks import formula_fields
from metamodel.issues import WARNING, MetadataIssue
from metamodel.model import EntityDef, FieldDef
from metamodel.paths import Hop, path_hops


def check_computed_reads_of_hidden_fields(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Warns, naming the role, when a formula or rollup field reads a field that role hides."""
    hidden = _hidden_by_role(ctx)
    if not hidden:
        return
    for source in ctx.entities:
        for path, f in ctx.fields_of(source):
            reads = dict.fromkeys((where, hop.entity.name, hop.field) for where, hop in _reads(ctx, source, path, f))
            for where, entity, name in reads:   # once per place and field read
                for role in sorted(r for r, fields in hidden.items() if (entity, name) in fields):
                    yield MetadataIssue(
                        source.file, where,
                        f"{f.name} reads {entity}.{name}, which role {role!r} hides, "
                        f"so {f.name} is hidden from {role!r} too",
                        "read another field, or hide the computed field from that role explicitly",
                        level=WARNING)


def _hidden_by_role(ctx: CheckContext) -> dict[str, frozenset[tuple[str, str]]]:
    found = {role.name: frozenset((entity, name) for entity, fields in role.field_access.items()
                                  for name, access in fields.items() if access == "hidden")
             for role in ctx.app.roles}
    return {name: fields for name, fields in found.items() if fields}


def _reads(ctx: CheckContext, source: EntitySource, path: str, f: FieldDef) -> Iterator[tuple[str, Hop]]:
    """Yields (JSON pointer, hop) for every field a formula or rollup field reads directly."""
    entity = source.entity
    if f.type == "formula" and f.option("expression"):
        yield from ((f"{path}/expression", hop) for hop in _formula_hops(ctx, entity, f.option("expression")))
    child = ctx.app.entities.get(f.option("child") or "") if f.type == "rollup" else None
    if child is None:
        return
    if f.option("field"):
        yield from ((f"{path}/field", hop) for hop in _hops(ctx, child, [f.option("field")]))
    if f.option("filter"):
        yield from ((f"{path}/filter", hop) for hop in _formula_hops(ctx, child, f.option("filter")))


def _formula_hops(ctx: CheckContext, entity: EntityDef, source: str) -> Iterator[Hop]:
    try:
        compiled = compile_formula(source, formula_fields(ctx.app, entity.name, source))
    except FormulaError:
        return   # reported by check_formulas
    yield from _hops(ctx, entity, sorted(compiled.paths))


def _hops(ctx: CheckContext, entity: EntityDef, paths: Iterable[str]) -> Iterator[Hop]:
    for dotted in paths:
        yield from path_hops(ctx.app.entities, entity, dotted)
