"""REGEX never hangs: a catastrophically backtracking match gives up with a FormulaError."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import formula
from formula import FormulaError, sqlite_functions

HOSTILE = 'REGEX("aaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "(a|a)+")'


def test_backtracking_regex_gives_up_with_a_formula_error_in_python():
    with pytest.raises(FormulaError, match="REGEX gave up after"):
        formula.compile(HOSTILE, {}).evaluate({})


def test_backtracking_regex_interrupts_the_sqlite_statement():
    engine = sa.create_engine("sqlite://")
    sa.event.listen(engine, "connect", lambda dbapi, _record: sqlite_functions.register(dbapi))
    expression = formula.compile(HOSTILE, {}).to_sql({})
    with engine.connect() as conn, pytest.raises(sa.exc.OperationalError, match="interrupted"):
        conn.execute(sa.select(expression)).all()


def test_regex_still_matches_the_whole_text():
    compiled = formula.compile('REGEX(t, "[0-9]{3}-[0-9]{4}")', {"t": "text"})
    assert compiled.evaluate({"t": "555-1234"}) is True
    assert compiled.evaluate({"t": "x555-1234"}) is False


def test_invalid_constant_pattern_is_refused_when_the_sql_is_built():
    compiled = formula.compile('REGEX(t, "[")', {"t": "text"})
    with pytest.raises(FormulaError, match="REGEX pattern is not valid"):
        compiled.to_sql({"t": sa.column("t")})
