"""Entity metadata -> SQLAlchemy tables: system columns, typed field columns, keys and indexes.

One table per entity, named as the entity; the schema engine and the query path both build on this.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from engine.storage.db import NAMING_CONVENTION, UTCDateTime
from metamodel.fieldtypes import field_type
from metamodel.model import EntityDef, FieldDef

MAX_NAME = 63


def short_name(name: str) -> str:
    """Returns `name` cut to PostgreSQL's 63 characters, kept unique by a hash suffix."""
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:MAX_NAME - 9]}_{digest}"


@dataclass(frozen=True)
class IndexSpec:
    """An index the metadata asks for; `unique` ones ignore rows in the recycle bin."""
    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool


def stored_fields(entity: EntityDef) -> list[FieldDef]:
    return [f for f in entity.fields if field_type(f.type).stored]


def system_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="SET NULL"), index=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.Integer),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.Integer),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("deleted_at", UTCDateTime, index=True),
    ]


def field_column(f: FieldDef, *, name: str | None = None) -> sa.Column:
    """Returns the column that stores field `f` (named `name` when given, e.g. during a conversion)."""
    kind = field_type(f.type)
    args: list = []
    fk = kind.foreign_key(f)
    if fk is not None:
        target, ondelete = fk
        args.append(sa.ForeignKey(f"{target}.id", ondelete=ondelete))
    return sa.Column(name or f.name, kind.column_type(f), *args, nullable=True)


def index_specs(entity: EntityDef) -> list[IndexSpec]:
    """Returns every index the entity's metadata asks for, named deterministically."""
    table = entity.name
    specs: dict[str, IndexSpec] = {}
    for f in stored_fields(entity):
        kind = field_type(f.type)
        if f.unique or kind.generated:
            name = short_name(f"uq_{table}_{f.name}")
            specs[name] = IndexSpec(name, table, (f.name,), True)
        elif f.indexed or kind.always_indexed(f):
            name = short_name(f"ix_{table}_{f.name}")
            specs[name] = IndexSpec(name, table, (f.name,), False)
    for index in entity.indexes:
        prefix = "uq" if index.unique else "ix"
        name = short_name(f"{prefix}_{table}__{index.name}")
        specs[name] = IndexSpec(name, table, tuple(index.fields), index.unique)
    return sorted(specs.values(), key=lambda s: s.name)


def index_object(spec: IndexSpec, table: sa.Table) -> sa.Index:
    where = table.c.deleted_at.is_(None) if spec.unique else None
    kwargs = {"sqlite_where": where, "postgresql_where": where} if spec.unique else {}
    return sa.Index(spec.name, *(table.c[c] for c in spec.columns), unique=spec.unique, **kwargs)


def build_table(entity: EntityDef, metadata: sa.MetaData, *, with_indexes: bool = True) -> sa.Table:
    """Returns the table of `entity` in `metadata`: system columns first, then its stored fields."""
    columns = system_columns() + [field_column(f) for f in stored_fields(entity)]
    table = sa.Table(entity.name, metadata, *columns)
    if with_indexes:
        for spec in index_specs(entity):
            index_object(spec, table)
    return table


def build_metadata(entities: Iterable[EntityDef]) -> sa.MetaData:
    """Returns a MetaData with every entity's table, beside the fw_ tables it refers to."""
    from engine.storage.db import system_metadata

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    for table in system_metadata.tables.values():
        table.to_metadata(metadata)
    for entity in entities:
        build_table(entity, metadata)
    return metadata


def tables_by_entity(metadata: sa.MetaData, entities: Mapping[str, EntityDef]) -> dict[str, sa.Table]:
    return {name: metadata.tables[name] for name in entities}
