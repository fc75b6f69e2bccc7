"""Benchmarks of the formula language against hand-written Python and SQL doing the same work.

Prints one line per measure: measure=<name> ours_ms=<median> baseline_ms=<median> ratio=<ours/baseline>.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from measure import report, scratch_database, time_ms

import formula

FIELDS = {"amount": "currency", "discount": "percent", "stage": "text"}
# Ten nodes: IF, >, amount, 1000, *, amount, -, 1, discount, amount.
SOURCE = "IF(amount > 1000, amount * (1 - discount), amount)"
FILTER_SOURCE = SOURCE + " > 5000"
HUNDRED = Decimal(100)
THOUSAND = Decimal(1000)
ONE = Decimal(1)


def hand_written(record: dict) -> Decimal | None:
    """What a developer would write for SOURCE, blanks included."""
    amount = record.get("amount")
    if amount is not None and amount > THOUSAND:
        discount = record.get("discount")
        return None if discount is None else amount * (ONE - discount / HUNDRED)
    return amount


def bench_evaluate(count: int, repeats: int) -> None:
    compiled = formula.compile(SOURCE, FIELDS)
    rng = random.Random(7)
    records = [
        {"amount": Decimal(rng.randint(0, 5000)), "discount": Decimal(rng.randint(0, 30)), "stage": "Won"}
        for _ in range(1000)
    ]
    batch = (records * (count // len(records) + 1))[:count]
    assert all(compiled.evaluate(r) == hand_written(r) for r in records)
    evaluate = compiled.evaluate
    ours = time_ms(lambda: [evaluate(r) for r in batch], repeats)
    baseline = time_ms(lambda: [hand_written(r) for r in batch], repeats)
    report(f"evaluate_{count}_records", ours, baseline)


def bench_compile(repeats: int) -> None:
    count = 200
    ours = time_ms(lambda: [formula.compile(SOURCE, FIELDS) for _ in range(count)], repeats) / count
    python_source = (
        "lambda r: (r['amount'] * (1 - r['discount'] / 100)) if r['amount'] > 1000 else r['amount']"
    )
    baseline = (
        time_ms(lambda: [compile(python_source, "<b>", "eval") for _ in range(count)], repeats) / count
    )
    report("parse_check_compile_per_formula_vs_python_compile", ours, baseline)


DEAL = {
    "name": "deal", "label": "Deal", "plural_label": "Deals",
    "fields": [
        {"name": "amount", "type": "currency", "label": "Amount"},
        {"name": "discount", "type": "percent", "label": "Discount"},
        {"name": "net", "type": "formula", "label": "Net", "returns": "currency",
         "expression": "IF(amount > 1000, amount * (1 - discount), amount)"},
    ],
}


def bench_sql_filter(url: str, rows: int, repeats: int) -> None:
    """Counting the rows whose formula field passes a filter, through the query path, against the
    hand-written SQL of the same condition on the same table."""
    from engine.apps import install_app
    from engine.runtime import Runtime
    from metamodel import app_from_documents
    from metamodel.model import Condition

    with scratch_database(url) as scratch:
        rt = Runtime(scratch)
        rt.migrate()
        install_app(rt, app_from_documents({"app.json": {"name": "bench", "version": "1.0.0", "label": "Bench"},
                                            "entities/deal.json": DEAL}))
        table = rt.registry().table("deal")
        _fill(rt, table, rows)
        query = rt.query()
        condition = [Condition("net", "gt", 5000)]
        amount, discount = table.c.amount, table.c.discount
        hand_query = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.deleted_at.is_(None),
                   sa.case((amount > 1000, amount * (1 - discount / 100)), else_=amount) > 5000)
        )
        with rt.engine.connect() as connection:
            expected = connection.execute(hand_query).scalar_one()
            assert query.count("deal", filters=condition) == expected, "formula field and hand-written SQL disagree"
            ours = time_ms(lambda: query.count("deal", filters=condition), repeats)
            baseline = time_ms(lambda: connection.execute(hand_query).scalar_one(), repeats)
        report(f"sql_filter_formula_field_{rows}_rows_{rt.dialect}", ours, baseline)
        rt.dispose()


def _fill(rt, table: sa.Table, rows: int) -> None:
    # Set-based inserts: the benchmark measures reading, so the rows go in as fast as possible.
    now = datetime.now(UTC)
    with rt.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text(
                "INSERT INTO deal (amount, discount, created_at, updated_at, version) "
                "SELECT (g::bigint * 7919) % 5000, g % 31, :now, :now, 1 FROM generate_series(1, :rows) AS g"),
                {"rows": rows, "now": now})
            connection.execute(sa.text("ANALYZE deal"))
            return
        connection.execute(table.insert(), [
            {"amount": (g * 7919) % 5000, "discount": g % 31, "created_at": now, "updated_at": now, "version": 1}
            for g in range(1, rows + 1)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="evaluations and table rows (default 1,000,000)"
    )
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    bench_evaluate(args.rows, args.repeats)
    bench_compile(args.repeats)
    bench_sql_filter(args.database, args.rows, args.repeats)


if __name__ == "__main__":
    main()
