"""Record service and query path against hand-written SQLAlchemy Core on an identical table.

The baseline issues the statements a careful hand-written implementation needs for the same
guarantees (an audit row per write, the version check of an optimistic lock, the recycle-bin
filter on reads); the ratio is what the metadata-driven layer costs on top.
Run: python bench/records.py [--rows 100000] [--database URL]
"""
from __future__ import annotations

import dataclasses
import random
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import compare, options, scratch_database  # noqa: E402

from engine.apps import install_app  # noqa: E402
from engine.runtime import Runtime  # noqa: E402
from engine.storage.db import fw_audit, fw_user, utcnow, write_transaction
from engine.storage.tables import build_table
from metamodel import app_from_documents  # noqa: E402
from metamodel.model import Condition, SortKey  # noqa: E402

STAGES = ["initial_contact", "needs_confirmed", "demo", "negotiation", "won", "lost"]

DEAL = {
    "name": "deal", "label": {"en": "Deal"}, "plural_label": {"en": "Deals"},
    "fields": [
        {"name": "name", "type": "text", "label": {"en": "Name"}, "required": True, "indexed": True},
        {"name": "amount", "type": "currency", "label": {"en": "Amount"}},
        {"name": "stage", "type": "picklist", "label": {"en": "Stage"}, "indexed": True,
         "values": [{"value": s, "label": {"en": s}} for s in STAGES]},
        {"name": "close_date", "type": "date", "label": {"en": "Close date"}, "indexed": True},
        {"name": "score", "type": "integer", "label": {"en": "Score"}},
        {"name": "email", "type": "email", "label": {"en": "Email"}},
        {"name": "notes", "type": "textarea", "label": {"en": "Notes"}},
    ],
}


def deal_values(rng: random.Random, n: int) -> dict:
    return {"name": f"Deal {n}", "amount": Decimal(rng.randrange(100, 10**7)) / 100,
            "stage": rng.choice(STAGES), "close_date": date(2026, 1, 1) + timedelta(days=rng.randrange(365)),
            "score": rng.randrange(100), "email": f"buyer{n}@example.com", "notes": "Discussed terms."}


def main() -> None:
    args = options(__doc__.splitlines()[0], 100_000)
    with scratch_database(args.database) as url:
        run(url, args.rows, args.repeat)


def run(url: str, rows: int, repeat: int) -> None:
    rt = Runtime(url)
    rt.migrate()
    install_app(rt, app_from_documents({"app.json": {"name": "bench", "version": "1.0.0", "label": "Bench"},
                                        "entities/deal.json": DEAL}))
    registry = rt.registry()
    entity = registry.entity("deal")
    rng = random.Random(7)
    records = rt.records(registry=registry)
    for start in range(0, rows, 5000):
        records.bulk_create("deal", [deal_values(rng, n) for n in range(start, min(rows, start + 5000))])

    # The baseline table: the same columns and indexes, filled with the same rows.
    metadata = sa.MetaData()
    fw_user.to_metadata(metadata)
    base = build_table(dataclasses.replace(entity, name="deal_baseline"), metadata)
    deal = registry.table("deal")
    with rt.engine.begin() as conn:
        base.create(conn)
        conn.execute(sa.insert(base).from_select([c.name for c in deal.c], sa.select(*deal.c)))
        if conn.dialect.name == "postgresql":   # ids were copied: move the sequence past them
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('deal_baseline', 'id'), "
                                 "(SELECT max(id) FROM deal_baseline))")
    query = rt.query(registry=registry)
    print(f"# {rt.dialect}, {rows:,} rows", flush=True)

    def ours_create(i: int) -> None:
        records.create("deal", deal_values(rng, rows + i))

    def baseline_create(i: int) -> None:
        values = deal_values(rng, rows + i)
        now = utcnow()
        with write_transaction(rt.engine) as conn:
            row = conn.execute(sa.insert(base).values(**values, created_at=now, updated_at=now, version=1)
                               .returning(*base.c)).mappings().one()
            conn.execute(sa.insert(fw_audit).values(at=now, action="create", entity="deal_baseline",
                                                    record_id=row["id"], changes={}, detail={"version": 1}))

    compare("create", ours_create, baseline_create, repeat)

    ids = [rng.randrange(1, rows + 1) for _ in range(repeat + 10)]

    def ours_get(i: int) -> None:
        query.get("deal", ids[i])

    def baseline_get(i: int) -> None:
        with rt.engine.connect() as conn:
            conn.execute(sa.select(base).where(base.c.id == ids[i], base.c.deleted_at.is_(None))).mappings().one()

    compare("get", ours_get, baseline_get, repeat)

    def ours_update(i: int) -> None:
        records.update("deal", ids[i], {"score": i % 100, "stage": STAGES[i % 6]})

    def baseline_update(i: int) -> None:
        now = utcnow()
        with write_transaction(rt.engine) as conn:
            current = conn.execute(sa.select(base).where(base.c.id == ids[i], base.c.deleted_at.is_(None))
                                   ).mappings().one()
            conn.execute(sa.update(base).where(base.c.id == ids[i], base.c.version == current["version"])
                         .values(score=i % 100, stage=STAGES[i % 6], version=current["version"] + 1,
                                 updated_at=now).returning(*base.c)).mappings().one()
            conn.execute(sa.insert(fw_audit).values(at=now, action="update", entity="deal_baseline",
                                                    record_id=ids[i], changes={"score": [current["score"], i % 100]},
                                                    detail={"version": current["version"] + 1}))

    compare("update", ours_update, baseline_update, repeat)

    def ours_list(i: int) -> None:
        query.list("deal", filters=[Condition("stage", "eq", STAGES[i % 6])],
                   sort=[SortKey("close_date", "desc")], limit=50)

    def baseline_list(i: int) -> None:
        with rt.engine.connect() as conn:
            conn.execute(sa.select(base).where(base.c.deleted_at.is_(None), base.c.stage == STAGES[i % 6])
                         .order_by(base.c.close_date.desc().nulls_last(), base.c.id.asc()).limit(51)).mappings().all()

    compare("list_50_filtered_sorted", ours_list, baseline_list, max(50, repeat // 2))
    rt.dispose()


if __name__ == "__main__":
    main()
