"""Property: random well-typed formulas over random records give the same value in Python and SQL.

Runs on SQLite always and on PostgreSQL when FORMWORK_TEST_DATABASE_URL is set; blanks included.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formula
from formula import FormulaError

FIELDS = {"n": "number", "m": "number", "p": "percent", "t": "text", "u": "text", "b": "boolean", "d": "date"}

numbers = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
words = st.text(alphabet="abcAB xyz-", max_size=6)
records = st.fixed_dictionaries(
    {
        "n": st.none() | numbers,
        "m": st.none() | numbers,
        "p": st.none() | numbers,
        "t": st.none() | words,
        "u": st.none() | words,
        "b": st.none() | st.booleans(),
        "d": st.none() | st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)),
    }
)


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


small_ints = st.integers(min_value=-3, max_value=12).map(str)
number_leaves = st.one_of(st.sampled_from(["n", "m", "p"]), numbers.map(lambda d: f"({d})"))
# Comparisons only see simple numbers, so SQLite's float rounding cannot flip a result.
simple_numbers = st.one_of(
    number_leaves, st.tuples(number_leaves, number_leaves).map(lambda a: f"({a[0]} + {a[1]})")
)
text_leaves = st.one_of(st.sampled_from(["t", "u"]), words.map(_quoted))
date_leaves = st.one_of(st.just("d"), st.just("DATE(2020, 2, 29)"))


def _expressions():
    def extend(children):
        num, txt, boo, dat = (children.map(lambda kinds, i=i: kinds[i]) for i in range(4))
        return st.tuples(
            st.one_of(
                st.tuples(num, st.sampled_from(["+", "-", "*"]), num).map(
                    lambda a: f"({a[0]} {a[1]} {a[2]})"
                ),
                st.tuples(st.sampled_from(["ABS", "FLOOR", "CEILING", "MFLOOR", "MCEILING"]), num).map(
                    lambda a: f"{a[0]}({a[1]})"
                ),
                st.tuples(num, st.sampled_from(["0", "1", "2", "-1"])).map(
                    lambda a: f"ROUND({a[0]}, {a[1]})"
                ),
                st.tuples(boo, num, num).map(lambda a: f"IF({a[0]}, {a[1]}, {a[2]})"),
                st.tuples(num, num).map(lambda a: f"BLANKVALUE({a[0]}, {a[1]})"),
                st.tuples(num, num).map(lambda a: f"MAX({a[0]}, {a[1]})"),
                txt.map(lambda a: f"LEN({a})"),
                dat.map(lambda a: f"YEAR({a})"),
                dat.map(lambda a: f"(d - {a})"),
            ),
            st.one_of(
                st.tuples(txt, txt).map(lambda a: f"({a[0]} & {a[1]})"),
                st.tuples(txt, small_ints).map(lambda a: f"LEFT({a[0]}, {a[1]})"),
                st.tuples(txt, small_ints, small_ints).map(lambda a: f"MID({a[0]}, {a[1]}, {a[2]})"),
                st.tuples(st.sampled_from(["UPPER", "LOWER", "TRIM"]), txt).map(lambda a: f"{a[0]}({a[1]})"),
                st.tuples(txt, txt, txt).map(lambda a: f"SUBSTITUTE({a[0]}, {a[1]}, {a[2]})"),
                st.tuples(boo, txt, txt).map(lambda a: f"IF({a[0]}, {a[1]}, {a[2]})"),
                st.tuples(txt, txt).map(lambda a: f"BLANKVALUE({a[0]}, {a[1]})"),
                dat.map(lambda a: f"TEXT({a})"),
                st.just("TEXT(n)"),
            ),
            st.one_of(
                st.tuples(simple_numbers, st.sampled_from(["=", "<>", "<", ">=", ">"]), simple_numbers).map(
                    lambda a: f"({a[0]} {a[1]} {a[2]})"
                ),
                st.tuples(txt, st.sampled_from(["=", "<>"]), txt).map(lambda a: f"({a[0]} {a[1]} {a[2]})"),
                st.tuples(boo, st.sampled_from(["&&", "||"]), boo).map(lambda a: f"({a[0]} {a[1]} {a[2]})"),
                boo.map(lambda a: f"NOT({a})"),
                st.tuples(st.sampled_from(["CONTAINS", "BEGINS"]), txt, txt).map(
                    lambda a: f"{a[0]}({a[1]}, {a[2]})"
                ),
                st.one_of(num, txt, dat).map(lambda a: f"ISBLANK({a})"),
                st.tuples(dat, st.sampled_from(["<", "="]), dat).map(lambda a: f"({a[0]} {a[1]} {a[2]})"),
            ),
            st.one_of(
                st.tuples(dat, small_ints).map(lambda a: f"({a[0]} + {a[1]})"),
                st.tuples(dat, small_ints).map(lambda a: f"ADDMONTHS({a[0]}, {a[1]})"),
                st.tuples(boo, dat, dat).map(lambda a: f"IF({a[0]}, {a[1]}, {a[2]})"),
            ),
        )

    leaves = st.tuples(
        number_leaves, text_leaves, st.sampled_from(["b", "TRUE", "FALSE", "(n > m)"]), date_leaves
    )
    return st.recursive(leaves, extend, max_leaves=8)


formulas = _expressions().flatmap(lambda kinds: st.sampled_from(list(kinds)))


def _stored(dialect: str, record: dict) -> dict:
    row = dict(record)
    for name in ("n", "m", "p"):
        if row[name] is not None and dialect == "sqlite":
            row[name] = float(row[name])
    return row


@pytest.fixture(scope="module")
def record_table(sql_engine):
    dialect = sql_engine.dialect.name
    number = sa.Float() if dialect == "sqlite" else sa.Numeric()
    metadata = sa.MetaData()
    table = sa.Table(
        f"formula_differential_{uuid.uuid4().hex[:8]}",
        metadata,
        sa.Column("n", number),
        sa.Column("m", number),
        sa.Column("p", number),
        sa.Column("t", sa.Text()),
        sa.Column("u", sa.Text()),
        sa.Column("b", sa.Boolean()),
        sa.Column("d", sa.Date()),
    )
    with sql_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        metadata.drop_all(connection)
        metadata.create_all(connection)
        yield connection, table
        metadata.drop_all(connection)


def _same(python_value, sql_value) -> bool:
    if isinstance(python_value, Decimal) and isinstance(sql_value, Decimal):
        return abs(python_value - sql_value) <= Decimal("1e-6") * max(abs(python_value), Decimal(1))
    return python_value == sql_value


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(source=formulas, record=records, blank_as_zero=st.booleans())
def test_python_and_sql_back_ends_agree(record_table, source, record, blank_as_zero):
    connection, table = record_table
    compiled = formula.compile(source, FIELDS, blank_as_zero=blank_as_zero)
    expression = compiled.to_sql({path: table.c[path] for path in compiled.paths})
    connection.execute(table.delete())
    connection.execute(table.insert().values(**_stored(connection.dialect.name, record)))
    sql_value = connection.execute(sa.select(expression)).scalar_one()
    try:
        python_value = compiled.evaluate(record)
    except FormulaError as error:
        assert error.is_runtime  # SQL reads a run-time error as NULL, which later blank rules may replace
        return
    assert _same(python_value, sql_value), (
        f"{source!r} on {record}: python {python_value!r}, sql {sql_value!r}"
    )
