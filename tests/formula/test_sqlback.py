"""SQL back end specifics: refused record-only functions, result types, NULL for #Error!, SQLite setup."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

import formula
from formula import FormulaError, sqlite_functions

FIELDS = {"amount": "number", "rate": "percent", "created": "datetime", "name": "text"}


def scalar(engine: sa.Engine, source: str, **options):
    compiled = formula.compile(source, FIELDS, **options)
    with engine.connect() as connection:
        return connection.execute(
            sa.select(compiled.to_sql({}, now=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)))
        ).scalar_one()


@pytest.mark.parametrize("source", ["ISNEW()", "ISCHANGED(amount)", "PRIORVALUE(amount) > 1"])
def test_record_only_functions_are_refused_in_sql_with_a_clear_error(source):
    compiled = formula.compile(source, FIELDS)
    with pytest.raises(FormulaError) as raised:
        compiled.to_sql({"amount": sa.column("amount")})
    assert raised.value.kind == "unsupported"
    assert "cannot be used in a list" in raised.value.message


def test_missing_column_for_a_path_is_reported():
    compiled = formula.compile("amount + 1", FIELDS)
    with pytest.raises(FormulaError, match="No column was given for field amount"):
        compiled.to_sql({})


def test_runtime_error_reads_as_null_in_sql(sql_engine):
    assert scalar(sql_engine, "1 / 0") is None
    assert scalar(sql_engine, "DATE(2011, 2, 29)") is None
    assert scalar(sql_engine, "VALUE('abc')") is None


def test_datetime_result_is_aware_utc(sql_engine):
    assert scalar(sql_engine, "NOW() + 1") == datetime(2024, 1, 3, 3, 4, 5, tzinfo=UTC)


def test_number_result_is_decimal(sql_engine):
    result = scalar(sql_engine, "10 / 4")
    assert isinstance(result, Decimal) and result == Decimal("2.5")


def test_boolean_result_is_bool(sql_engine):
    assert scalar(sql_engine, "1 < 2") is True


def test_percent_column_acts_as_a_fraction_and_percent_result_is_times_100(sql_engine):
    metadata = sa.MetaData()
    table = sa.Table(f"formula_rates_{uuid.uuid4().hex[:8]}", metadata, sa.Column("rate", sa.Numeric))
    compiled = formula.compile("rate * 2", FIELDS, returns="percent")
    with sql_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        metadata.drop_all(connection)
        metadata.create_all(connection)
        connection.execute(table.insert().values(rate=25))
        result = connection.execute(sa.select(compiled.to_sql({"rate": table.c.rate}))).scalar_one()
        metadata.drop_all(connection)
    assert result == Decimal(50)


def test_expression_can_filter_a_query(sql_engine):
    metadata = sa.MetaData()
    table = sa.Table(
        f"formula_filter_{uuid.uuid4().hex[:8]}",
        metadata,
        sa.Column("amount", sa.Numeric),
        sa.Column("name", sa.Text),
    )
    compiled = formula.compile("amount > 10 && BEGINS(name, 'A')", FIELDS)
    with sql_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        metadata.drop_all(connection)
        metadata.create_all(connection)
        connection.execute(
            table.insert(),
            [{"amount": 20, "name": "Ann"}, {"amount": 5, "name": "Al"}, {"amount": 30, "name": "Bo"}],
        )
        where = compiled.to_sql({"amount": table.c.amount, "name": table.c.name})
        names = connection.execute(sa.select(table.c.name).where(where)).scalars().all()
        metadata.drop_all(connection)
    assert names == ["Ann"]


def test_sqlite_registration_adds_the_formula_functions():
    connection = sqlite3.connect(":memory:")
    sqlite_functions.register(connection)
    assert connection.execute("SELECT formula_round(2.5, 0), formula_mod(-101, 10)").fetchone() == (3, -1)
    assert connection.execute("SELECT formula_regex('555-1234', '[0-9]{3}-[0-9]{4}')").fetchone() == (1,)
    assert connection.execute("SELECT formula_date(2011, 2, 29)").fetchone() == (None,)
