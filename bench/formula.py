"""Benchmarks of the formula language against hand-written Python and SQL doing the same work.

Prints one line per measure: measure=<name> ours_ms=<median> baseline_ms=<median> ratio=<ours/baseline>.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

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


def median_ms(run: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def emit(name: str, ours: float, baseline: float) -> None:
    print(
        f"measure={name} ours_ms={ours:.3f} baseline_ms={baseline:.3f} ratio={ours / baseline:.3f}",
        flush=True,
    )


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
    ours = median_ms(lambda: [evaluate(r) for r in batch], repeats)
    baseline = median_ms(lambda: [hand_written(r) for r in batch], repeats)
    emit(f"evaluate_{count}_records", ours, baseline)


def bench_compile(repeats: int) -> None:
    count = 200
    ours = median_ms(lambda: [formula.compile(SOURCE, FIELDS) for _ in range(count)], repeats) / count
    python_source = (
        "lambda r: (r['amount'] * (1 - r['discount'] / 100)) if r['amount'] > 1000 else r['amount']"
    )
    baseline = (
        median_ms(lambda: [compile(python_source, "<b>", "eval") for _ in range(count)], repeats) / count
    )
    emit("parse_check_compile_per_formula_vs_python_compile", ours, baseline)


def bench_sql_filter(url: str, rows: int, repeats: int) -> None:
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    table = sa.Table(
        "formula_bench",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("amount", sa.Numeric(12, 2)),
        sa.Column("discount", sa.Numeric(5, 2)),
    )
    with engine.begin() as connection:
        metadata.drop_all(connection)
        metadata.create_all(connection)
        if engine.dialect.name == "postgresql":
            connection.execute(
                sa.text(
                    "INSERT INTO formula_bench (id, amount, discount) SELECT g, (g::bigint * 7919) % 5000, g % 31 "
                    "FROM generate_series(1, :rows) AS g"
                ),
                {"rows": rows},
            )
            connection.execute(sa.text("ANALYZE formula_bench"))
        else:
            connection.execute(
                table.insert(),
                [{"id": g, "amount": (g * 7919) % 5000, "discount": g % 31} for g in range(1, rows + 1)],
            )
    compiled = formula.compile(FILTER_SOURCE, FIELDS)
    ours_query = (
        sa.select(sa.func.count())
        .select_from(table)
        .where(compiled.to_sql({"amount": table.c.amount, "discount": table.c.discount}))
    )
    amount, discount = table.c.amount, table.c.discount
    hand_query = (
        sa.select(sa.func.count())
        .select_from(table)
        .where(sa.case((amount > 1000, amount * (1 - discount / 100)), else_=amount) > 5000)
    )
    with engine.connect() as connection:
        ours_count = connection.execute(ours_query).scalar_one()
        assert ours_count == connection.execute(hand_query).scalar_one(), (
            "formula and hand-written SQL disagree"
        )
        ours = median_ms(lambda: connection.execute(ours_query).scalar_one(), repeats)
        baseline = median_ms(lambda: connection.execute(hand_query).scalar_one(), repeats)
    emit(f"sql_filter_{rows}_rows_{engine.dialect.name}", ours, baseline)
    with engine.begin() as connection:
        metadata.drop_all(connection)
    engine.dispose()


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
