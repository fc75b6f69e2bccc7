"""The SQL back end's text grows linearly with the formula: no construct copies an operand per level.

Each template nests the formula inside itself; doubling the depth may at most about double the SQL.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

import formula
from formula import FormulaError

FIELDS = {"n": "number", "m": "number", "t": "text", "u": "text", "b": "boolean", "d": "date", "dt": "datetime"}
TABLE = sa.table("r", *[sa.column(name) for name in FIELDS])
COLUMNS = {name: TABLE.c[name] for name in FIELDS}
DIALECTS = {"postgresql": postgresql.dialect(), "sqlite": sqlite.dialect()}

# {} is where the formula goes inside itself; the leaf is the innermost value.
NESTINGS = {
    "power base": ("({}) ^ m", "n"),
    "power exponent": ("m ^ ({})", "n"),
    "if": ("IF(({}) > 0, m, n) + 1", "n"),
    "case subject": ("CASE({}, 1, 10, 2, 20, 30)", "n"),
    "blankvalue": ("BLANKVALUE({}, m)", "n"),
    "mod": ("MOD({}, 7)", "n"),
    "round": ("ROUND({}, 2)", "n"),
    "ceiling": ("CEILING({})", "n"),
    "mceiling": ("MCEILING({})", "n"),
    "max": ("MAX({}, m)", "n"),
    "sqrt": ("SQRT({})", "n"),
    "find start": ("FIND(t, u, {})", "n"),
    "find needle": ("FIND(TEXT({}), u)", "n"),
    "mid": ("MID({}, n, 2) & u", "t"),
    "left": ("LEFT(t, LEN({}))", "t"),
    "right": ("RIGHT(t, LEN({}))", "t"),
    "substitute": ("SUBSTITUTE({}, 'a', u)", "t"),
    "contains": ("IF(CONTAINS({}, u), t, u)", "t"),
    "begins": ("IF(BEGINS(t, {}), t, u)", "t"),
    "upper": ("UPPER({})", "t"),
    "lower": ("LOWER({})", "t"),
    "lpad": ("LPAD({}, 20, '*')", "t"),
    "text ordering": ("IF(({}) < u, t, u)", "t"),
    "regex": ("IF(REGEX({}, '[a-z]+'), t, u)", "t"),
    "value": ("TEXT(VALUE({}))", "t"),
    "datevalue": ("TEXT(DATEVALUE({}))", "t"),
    "addmonths": ("ADDMONTHS({}, 1)", "d"),
    "date from parts": ("DATE(YEAR({}), 2, 28)", "d"),
    "datetimevalue": ("DATETIMEVALUE({}) + 1", "dt"),
    "timevalue": ("TEXT(TIMEVALUE({}))", "t"),
    "formatduration": ("FORMATDURATION(LEN({}))", "t"),
}


def nested(template: str, leaf: str, depth: int) -> str:
    source = leaf
    for _ in range(depth):
        source = template.replace("{}", source)
    return source


def sql_length(source: str, dialect) -> int:
    expression = formula.compile(source, FIELDS).to_sql(COLUMNS)
    return len(str(expression.compile(dialect=dialect)))


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("construct", NESTINGS)
def test_sql_text_grows_linearly_with_nesting(construct, dialect):
    template, leaf = NESTINGS[construct]
    shallow = sql_length(nested(template, leaf, 3), DIALECTS[dialect])
    deep = sql_length(nested(template, leaf, 6), DIALECTS[dialect])
    assert deep <= 2.5 * shallow, f"{construct}: {shallow} characters at depth 3, {deep} at depth 6"


def test_power_tower_compiles_to_sql_shorter_than_a_kilobyte_per_level():
    tower = "2" + "^2" * 9 + " > 0"
    for dialect in DIALECTS.values():
        assert sql_length(tower, dialect) < 1000 * 10


def test_formula_too_deep_for_a_query_raises_formula_error_not_recursion_error():
    source = " & ".join(["t"] * 40)
    compiled = formula.compile(source, FIELDS)
    with pytest.raises(FormulaError, match="nested too deeply to run in a list"):
        compiled.to_sql(COLUMNS)
