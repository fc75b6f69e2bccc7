"""Each function: documented examples, blank inputs and wrong types, on Python and on SQL alike.

Every example runs through evaluate() and through to_sql() on SQLite (and PostgreSQL in CI).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
import sqlalchemy as sa

import formula
from formula import FormulaError

D = Decimal
NOW = datetime(2024, 2, 29, 13, 45, 30, tzinfo=UTC)
FIELDS = {
    "n": "number",
    "m": "number",
    "c": "currency",
    "p": "percent",
    "t": "text",
    "u": "text",
    "b": "boolean",
    "d": "date",
    "dt": "datetime",
    "pl": "picklist",
    "mp": "multipicklist",
}
BLANK = {name: None for name in FIELDS}

# (formula, values, expected) — values default to all blank
EXAMPLES = [
    # logical
    ("IF(n > 1, 'big', 'small')", {"n": D(2)}, "big"),
    ("IF(n > 1, 'big', 'small')", {}, "small"),
    ("CASE(n, 1, 'one', 2, 'two', 'other')", {"n": D(2)}, "two"),
    ("CASE(n, 1, 'one', 2, 'two', 'other')", {}, "other"),
    ("CASE(pl, 'Won', 1, 'Lost', 0, -1)", {"pl": "Lost"}, D(0)),
    ("AND(n > 1, m > 1)", {"n": D(2), "m": D(3)}, True),
    ("AND(n > 1, m > 1)", {"n": D(2)}, False),
    ("OR(n > 1, m > 1)", {"m": D(3)}, True),
    ("NOT(b)", {"b": True}, False),
    ("ISBLANK(t)", {"t": ""}, True),
    ("ISBLANK(t)", {"t": " "}, False),
    ("ISBLANK(n)", {}, True),
    ("ISNULL(n)", {"n": D(0)}, False),
    ("ISNULL(t)", {}, False),
    ("BLANKVALUE(t, 'none')", {}, "none"),
    ("BLANKVALUE(n, 7)", {"n": D(1)}, D(1)),
    ("NULLVALUE(n, 7)", {}, D(7)),
    ("NULLVALUE(t, 'x')", {}, None),
    ("ISNUMBER(t)", {"t": "-5.0"}, True),
    ("ISNUMBER(t)", {"t": "five"}, False),
    ("ISPICKVAL(pl, 'Won')", {"pl": "Won"}, True),
    ("ISPICKVAL(pl, 'Won')", {}, False),
    ("INCLUDES(mp, 'Golf')", {"mp": ["Golf", "Chess"]}, True),
    ("INCLUDES(mp, 'Go')", {"mp": ["Golf", "Chess"]}, False),
    ("INCLUDES(mp, 'Golf')", {}, False),
    # math
    ("ABS(n)", {"n": D("-1.5")}, D("1.5")),
    ("CEILING(n)", {"n": D("-1.3")}, D(-2)),
    ("FLOOR(n)", {"n": D("-1.3")}, D(-1)),
    ("MCEILING(n)", {"n": D("-1.3")}, D(-1)),
    ("MFLOOR(n)", {"n": D("-1.3")}, D(-2)),
    ("ROUND(n, 1)", {"n": D("2.25")}, D("2.3")),
    ("ROUND(n, 0)", {"n": D("-2.5")}, D(-3)),
    ("ROUND(n, -2)", {"n": D("1250")}, D(1300)),
    ("TRUNC(n, 1)", {"n": D("-2.79")}, D("-2.7")),
    ("MOD(n, 10)", {"n": D(-101)}, D(-1)),
    ("MAX(n, 3, 2)", {"n": D(1)}, D(3)),
    ("MIN(n, 3, 2)", {"n": D(1)}, D(1)),
    ("MAX(n, 3)", {}, None),
    ("SQRT(n)", {"n": D(16)}, D(4)),
    ("EXP(0)", {}, D(1)),
    ("LN(1)", {}, D(0)),
    ("LOG(n)", {"n": D(1000)}, D(3)),
    ("n / m", {"n": D(1), "m": D(4)}, D("0.25")),
    ("2 ^ n", {"n": D(10)}, D(1024)),
    ("p * 200", {"p": D(25)}, D(50)),
    ("n + 1", {}, None),
    # text
    ("LEN(t)", {"t": "héllo"}, D(5)),
    ("LEN(t)", {}, D(0)),
    ("LEFT(t, 3)", {"t": "12345"}, "123"),
    ("RIGHT(t, 3)", {"t": "12345"}, "345"),
    ("MID(t, 2, 3)", {"t": "12345"}, "234"),
    ("MID(t, 2, 3)", {}, None),
    ("FIND('lo', t)", {"t": "hello lo"}, D(4)),
    ("FIND('lo', t, 5)", {"t": "hello lo"}, D(7)),
    ("FIND('zz', t)", {"t": "hello"}, D(0)),
    ("CONTAINS(t, 'ell')", {"t": "hello"}, True),
    ("CONTAINS(t, 'ELL')", {"t": "hello"}, False),
    ("BEGINS(t, 'he')", {"t": "hello"}, True),
    ("BEGINS(t, 'he')", {}, None),
    ("LOWER(t)", {"t": "AbC"}, "abc"),
    ("UPPER(t)", {"t": "AbC"}, "ABC"),
    ("TRIM(t)", {"t": "  a b  "}, "a b"),
    ("SUBSTITUTE(t, 'go', 'leave')", {"t": "go go"}, "leave leave"),
    ("TEXT(n)", {"n": D("1.50")}, "1.5"),
    ("TEXT(n)", {"n": D("10")}, "10"),
    ("TEXT(d)", {"d": date(2020, 2, 11)}, "2020-02-11"),
    ("TEXT(dt)", {"dt": datetime(2004, 2, 28, 10, 34, tzinfo=UTC)}, "2004-02-28 10:34:00Z"),
    ("TEXT(pl)", {"pl": "Won"}, "Won"),
    ("VALUE(t) * 2", {"t": " 1.5 "}, D(3)),
    ("LPAD(t, 5, '0')", {"t": "42"}, "00042"),
    ("RPAD(t, 5, '-')", {"t": "42"}, "42---"),
    ("LPAD(t, 1)", {"t": "42"}, "4"),
    ("REGEX(t, '[0-9]{3}-[0-9]{4}')", {"t": "555-1234"}, True),
    ("REGEX(t, '[0-9]{3}')", {"t": "5551234"}, False),
    (
        "HYPERLINK(t, 'Home')",
        {"t": "https://x.org/?a=1&b=2"},
        '<a href="https://x.org/?a=1&amp;b=2">Home</a>',
    ),
    ("BR()", {}, "<br>"),
    ("CASESAFEID(t)", {"t": "0033z00002f6o3T"}, "0033z00002f6o3TAAQ"),
    ("t & u", {"t": "a"}, "a"),
    ("t + u", {"t": "a", "u": "b"}, "ab"),
    # dates and times
    ("DATE(2020, 2, 29)", {}, date(2020, 2, 29)),
    ("DATE(n, 2, 29)", {}, None),
    ("DATEVALUE(t)", {"t": "2020-02-11"}, date(2020, 2, 11)),
    ("DATEVALUE(dt)", {"dt": datetime(2020, 2, 11, 23, 0, tzinfo=UTC)}, date(2020, 2, 11)),
    ("DATETIMEVALUE(t)", {"t": "2016-3-1 13:15:10"}, datetime(2016, 3, 1, 13, 15, 10, tzinfo=UTC)),
    ("DATETIMEVALUE(d)", {"d": date(2017, 12, 29)}, datetime(2017, 12, 29, tzinfo=UTC)),
    ("YEAR(d)", {"d": date(2019, 7, 4)}, D(2019)),
    ("MONTH(d)", {"d": date(2019, 7, 4)}, D(7)),
    ("DAY(d)", {"d": date(2019, 7, 4)}, D(4)),
    ("WEEKDAY(d)", {"d": date(2020, 4, 12)}, D(1)),
    ("WEEKDAY(d)", {"d": date(2020, 4, 18)}, D(7)),
    ("ADDMONTHS(d, 1)", {"d": date(2020, 1, 30)}, date(2020, 2, 29)),
    ("ADDMONTHS(d, -1)", {"d": date(2019, 2, 28)}, date(2019, 1, 31)),
    ("ADDMONTHS(d, 1.9)", {"d": date(2020, 1, 15)}, date(2020, 2, 15)),
    ("HOUR(TIMEVALUE(dt))", {"dt": datetime(2020, 1, 1, 17, 5, 9, tzinfo=UTC)}, D(17)),
    ("MINUTE(TIMEVALUE(dt))", {"dt": datetime(2020, 1, 1, 17, 5, 9, tzinfo=UTC)}, D(5)),
    ("SECOND(TIMEVALUE(dt))", {"dt": datetime(2020, 1, 1, 17, 5, 9, tzinfo=UTC)}, D(9)),
    ("TIMEVALUE(t)", {"t": "10:34:55.666"}, time(10, 34, 55, 666000)),
    ("d + 0.7", {"d": date(2005, 4, 5)}, date(2005, 4, 5)),
    ("d + 0.5 + 0.5", {"d": date(2005, 4, 5)}, date(2005, 4, 5)),
    ("d + (0.5 + 0.5)", {"d": date(2005, 4, 5)}, date(2005, 4, 6)),
    ("d - DATE(2005, 4, 1)", {"d": date(2005, 4, 5)}, D(4)),
    (
        "dt + 0.166666",
        {"dt": datetime(2016, 2, 29, 13, 15, 10, tzinfo=UTC)},
        datetime(2016, 2, 29, 17, 15, 10, tzinfo=UTC),
    ),
    ("(dt - DATETIMEVALUE('2020-01-01 00:00:00')) * 24", {"dt": datetime(2020, 1, 2, 6, tzinfo=UTC)}, D(30)),
    ("TODAY()", {}, date(2024, 2, 29)),
    ("NOW()", {}, NOW),
    ("TODAY() - d", {"d": date(2024, 2, 1)}, D(28)),
    ("FORMATDURATION(n)", {"n": D(1000000)}, "277:46:40"),
    ("FORMATDURATION(n, TRUE)", {"n": D(90061)}, "1:01:01:01"),
]


def python_value(source: str, values: dict, **options):
    return formula.compile(source, FIELDS, **options).evaluate({**BLANK, **values}, now=NOW)


@pytest.mark.parametrize(("source", "values", "expected"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_function_example_on_python(source, values, expected):
    assert python_value(source, values) == expected


def _stored(dialect: str, name: str, value):
    if value is None:
        return None
    if FIELDS[name] == "multipicklist":
        return ";".join(value)
    if dialect == "sqlite" and isinstance(value, Decimal):
        return float(value)
    if dialect == "sqlite" and isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value


@pytest.fixture(scope="module")
def example_table(sql_engine):
    dialect = sql_engine.dialect.name
    number = sa.Float() if dialect == "sqlite" else sa.Numeric()
    types = {
        "number": number,
        "currency": number,
        "percent": number,
        "text": sa.Text(),
        "picklist": sa.Text(),
        "multipicklist": sa.Text(),
        "boolean": sa.Boolean(),
        "date": sa.Date(),
        "datetime": sa.DateTime(timezone=True),
    }
    metadata = sa.MetaData()
    table = sa.Table(
        f"formula_examples_{uuid.uuid4().hex[:8]}",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        *[sa.Column(name, types[kind]) for name, kind in FIELDS.items()],
    )
    with sql_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        metadata.drop_all(connection)
        metadata.create_all(connection)
        for index, (_source, values, _expected) in enumerate(EXAMPLES):
            row = {name: _stored(dialect, name, value) for name, value in {**BLANK, **values}.items()}
            connection.execute(table.insert().values(id=index, **row))
        yield connection, table
        metadata.drop_all(connection)


def sql_value(connection, table, index: int, source: str):
    compiled = formula.compile(source, FIELDS)
    expression = compiled.to_sql({path: table.c[path] for path in compiled.paths}, now=NOW)
    return connection.execute(sa.select(expression).where(table.c.id == index)).scalar_one()


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[e[0] for e in EXAMPLES])
def test_function_example_on_sql(example_table, index):
    connection, table = example_table
    source, _values, expected = EXAMPLES[index]
    actual = sql_value(connection, table, index, source)
    if isinstance(expected, Decimal):
        assert actual == pytest.approx(expected, rel=Decimal("1e-9"))
    else:
        assert actual == expected


@pytest.mark.parametrize(
    "source",
    [
        "LEN(n)",
        "ROUND(t, 1)",
        "DATE('2020', 1, 1)",
        "YEAR(dt)",
        "ADDMONTHS(t, 1)",
        "UPPER(d)",
        "AND(n, b)",
        "VALUE(n)",
    ],
)
def test_function_given_a_wrong_type_is_a_type_mismatch(source):
    with pytest.raises(FormulaError) as raised:
        formula.compile(source, FIELDS)
    assert raised.value.kind == "type_mismatch"


@pytest.mark.parametrize(
    ("source", "values", "kind"),
    [
        ("n / m", {"n": D(1), "m": D(0)}, "division_by_zero"),
        ("SQRT(n)", {"n": D(-1)}, "math_domain"),
        ("LN(n)", {"n": D(0)}, "math_domain"),
        ("VALUE(t)", {"t": "--1"}, "invalid_number"),
        ("DATE(2011, 2, 29)", {}, "invalid_date"),
        ("DATEVALUE(t)", {"t": "someday"}, "invalid_date"),
        ("REGEX(t, '(')", {"t": "x"}, "invalid_regex"),
        ("n ^ 1.5", {"n": D(2)}, "evaluation_error"),
        ("64 ^ 64", {}, "evaluation_error"),
    ],
)
def test_runtime_error_raises_formula_error_with_its_kind(source, values, kind):
    with pytest.raises(FormulaError) as raised:
        python_value(source, values)
    assert raised.value.kind == kind
    assert raised.value.line == 1 and raised.value.column >= 1


def test_blank_numbers_read_as_zero_when_blank_as_zero():
    assert python_value("n + 1", {}, blank_as_zero=True) == D(1)
    assert python_value("ISBLANK(n)", {}, blank_as_zero=True) is False
    assert python_value("BLANKVALUE(n, 5)", {}, blank_as_zero=True) == D(0)


def test_blank_numbers_stay_blank_when_blank_as_blank():
    assert python_value("n + 1", {}) is None
    assert python_value("BLANKVALUE(n, 5)", {}) == D(5)


def test_percent_result_is_shown_times_100():
    assert python_value("p * 2", {"p": D(25)}, returns="percent") == D(50)
    assert python_value("p", {"p": D(25)}) == D(25)


def test_ischanged_and_priorvalue_read_the_prior_record():
    compiled = formula.compile("IF(ISCHANGED(n), PRIORVALUE(n), -1)", FIELDS)
    assert compiled.evaluate({"n": D(2)}, prior={"n": D(1)}) == D(1)
    assert compiled.evaluate({"n": D(2)}, prior={"n": D(2)}) == D(-1)


def test_isnew_reads_the_is_new_flag():
    compiled = formula.compile("ISNEW()", FIELDS)
    assert compiled.evaluate({}, is_new=True) is True
    assert compiled.evaluate({}) is False


def test_lookup_values_are_read_through_nested_mappings():
    compiled = formula.compile("account.owner.name & '!'", {"account": {"owner": {"name": "text"}}})
    assert compiled.evaluate({"account": {"owner": {"name": "Ann"}}}) == "Ann!"
    assert compiled.evaluate({"account": None}) == "!"
