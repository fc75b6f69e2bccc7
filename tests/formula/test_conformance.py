"""Runs the shared Salesforce conformance vectors through both back ends and reports pass rates.

Vectors are read from ../shared (or $FORMWORK_SHARED_DIR), never copied into the project; each back
end must pass at least 95 %, and the report lists failures grouped by function.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import formula
from formula.errors import FormulaError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VECTORS_RELATIVE = Path("conformance/salesforce-formula/vectors.json")


def shared_dir() -> Path:
    """The shared folder: $FORMWORK_SHARED_DIR, else ../shared beside the project root."""
    configured = os.environ.get("FORMWORK_SHARED_DIR")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared"


def load_vectors() -> list[dict[str, Any]]:
    """Every vector, or a skip (a failure under CI=true) when the shared folder is missing."""
    path = shared_dir() / VECTORS_RELATIVE
    if not path.exists():
        reason = f"conformance vectors not found at {path}; set FORMWORK_SHARED_DIR to the shared folder"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return json.loads(path.read_text(encoding="utf-8"))


def is_applicable(vector: dict[str, Any]) -> bool:
    """Leave out the time type, $ globals, time-zone contexts and engine-optional functions."""
    if vector.get("availability") == "engine-optional" or vector.get("context"):
        return False
    if "$" in vector["formula"]:
        return False
    if any(spec["type"] in ("time", "geolocation") for spec in vector["inputs"].values()):
        return False
    return vector["expected"].get("type") != "time" and vector.get("return_type") != "time"


_TYPE_NAMES = {"checkbox": "boolean"}


def to_python(type_name: str, spec: dict[str, Any]) -> Any:
    """A vector value ({"value", "decimal"?}) as the Python value the formula contract uses."""
    value = spec.get("value")
    if value is None:
        return None
    if type_name in ("number", "currency", "percent"):
        return Decimal(spec.get("decimal") or repr(value))
    if type_name == "date":
        return date.fromisoformat(value)
    if type_name == "datetime":
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return value


@dataclass
class Case:
    """One vector prepared for compile: schema, values, options and the expectation."""

    index: int
    vector: dict[str, Any]
    fields: dict[str, Any]
    values: dict[str, Any]
    flat: dict[str, tuple[str, Any]]
    blank_as_zero: bool
    returns: str | None

    @property
    def group(self) -> str:
        return ",".join(self.vector["functions"]) or "(operators)"


def prepare(index: int, vector: dict[str, Any]) -> Case:
    """Turn a vector's dotted inputs into nested fields and values."""
    fields: dict[str, Any] = {}
    values: dict[str, Any] = {}
    flat: dict[str, tuple[str, Any]] = {}
    for name, spec in vector["inputs"].items():
        type_name = _TYPE_NAMES.get(spec["type"], spec["type"])
        *lookups, leaf = name.split(".")
        field_level, value_level = fields, values
        for part in lookups:
            field_level = field_level.setdefault(part, {})
            value_level = value_level.setdefault(part, {})
        field_level[leaf] = type_name
        value_level[leaf] = to_python(type_name, spec)
        flat[name] = (type_name, value_level[leaf])
    returns = vector.get("return_type")
    return Case(
        index,
        vector,
        fields,
        values,
        flat,
        vector.get("blank_mode") == "zero",
        _TYPE_NAMES.get(returns, returns) if returns else None,
    )


def matches(expected: dict[str, Any], actual: Any) -> bool:
    """Compare a result with a vector's expected value (decimals with a small relative tolerance)."""
    want = expected.get("value")
    kind = expected.get("type")
    if kind == "text":
        return (want or None) == (actual or None)
    if want is None or actual is None:
        return want is None and actual is None
    if kind in ("number", "currency", "percent"):
        want_number = Decimal(expected.get("decimal") or repr(want))
        if not isinstance(actual, Decimal):
            return False
        tolerance = Decimal(str(expected.get("tolerance", "1e-9")))
        scale = max(abs(want_number), Decimal(1))
        return abs(actual - want_number) <= tolerance * scale
    if kind == "checkbox":
        return actual is want
    if kind == "date":
        return actual == date.fromisoformat(want)
    if kind == "datetime":
        wanted = datetime.fromisoformat(want.replace("Z", "+00:00"))
        if expected.get("precision") == "second":
            wanted, actual = wanted.replace(microsecond=0), actual.replace(microsecond=0)
        return actual == wanted
    return actual == want


@dataclass
class Outcome:
    """What one back end did with one vector."""

    case: Case
    passed: bool
    detail: str


def report(backend: str, outcomes: list[Outcome]) -> tuple[float, str]:
    """The pass rate and a printable report listing failures grouped by function."""
    failures = [o for o in outcomes if not o.passed]
    rate = 1 - len(failures) / max(len(outcomes), 1)
    lines = [f"{backend}: {len(outcomes) - len(failures)}/{len(outcomes)} vectors pass ({rate:.2%})"]
    groups: dict[str, list[Outcome]] = {}
    for failure in failures:
        groups.setdefault(failure.case.group, []).append(failure)
    for group, items in sorted(groups.items()):
        lines.append(f"  {group}: {len(items)} failing")
        for item in items[:6]:
            lines.append(f"    #{item.case.index} {item.case.vector['formula'][:90]!r}: {item.detail}")
    return rate, "\n".join(lines)


@pytest.fixture(scope="session")
def conformance_cases() -> list[Case]:
    return [prepare(i, v) for i, v in enumerate(load_vectors()) if is_applicable(v)]


REQUIRED_RATE = 0.95
FIXED_NOW = datetime(2009, 6, 15, 12, 0, tzinfo=UTC)


def compile_case(case: Case) -> formula.CompiledFormula:
    return formula.compile(
        case.vector["formula"], case.fields, blank_as_zero=case.blank_as_zero, returns=case.returns
    )


def expected_compile_error(case: Case, error: FormulaError) -> Outcome:
    expected = case.vector["expected"]
    if expected.get("phase") == "compile":
        ok = expected["error"] == error.kind
        return Outcome(case, ok, f"raised {error.kind}, expected {expected['error']}")
    return Outcome(case, False, f"compile error {error.kind}: {error.message}")


def run_python(case: Case) -> Outcome:
    expected = case.vector["expected"]
    try:
        compiled = compile_case(case)
    except FormulaError as error:
        return expected_compile_error(case, error)
    if expected.get("phase") == "compile":
        return Outcome(case, False, f"compiled, expected {expected['error']}")
    try:
        actual = compiled.evaluate(case.values, now=FIXED_NOW)
    except FormulaError as error:
        ok = expected.get("phase") == "runtime" and expected["error"] == error.kind
        return Outcome(case, ok, f"raised {error.kind} ({error.message}), expected {expected}")
    if "error" in expected:
        return Outcome(case, False, f"returned {actual!r}, expected {expected['error']}")
    return Outcome(
        case, matches(expected, actual), f"returned {actual!r}, expected {expected.get('value')!r}"
    )


def test_conformance_vectors_pass_on_python_back_end(conformance_cases):
    outcomes = [run_python(case) for case in conformance_cases]
    rate, text = report("python", outcomes)
    print(text)
    assert rate >= REQUIRED_RATE, text


_COLUMN_KINDS = {
    "number": "n",
    "currency": "n",
    "percent": "n",
    "text": "t",
    "picklist": "t",
    "multipicklist": "t",
    "boolean": "b",
    "date": "d",
    "datetime": "dt",
}


def _column_plan(cases: list[Case]) -> tuple[dict[str, int], list[dict[str, str]]]:
    """How many columns of each kind the table needs, and which column holds each case's input."""
    widths: dict[str, int] = {}
    plans: list[dict[str, str]] = []
    for case in cases:
        used: dict[str, int] = {}
        plan: dict[str, str] = {}
        for name, (type_name, _value) in case.flat.items():
            kind = _COLUMN_KINDS[type_name]
            plan[name] = f"{kind}{used.get(kind, 0)}"
            used[kind] = used.get(kind, 0) + 1
            widths[kind] = max(widths.get(kind, 0), used[kind])
        plans.append(plan)
    return widths, plans


def _stored(dialect: str, type_name: str, value):
    if value is None:
        return None
    if type_name == "multipicklist":
        return ";".join(value)
    if dialect == "sqlite" and type_name in ("number", "currency", "percent"):
        return int(value) if value == value.to_integral_value() else float(value)
    if dialect == "sqlite" and type_name == "datetime":
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def run_sql(engine: sa.Engine, cases: list[Case]) -> list[Outcome]:
    """Store every case's inputs as one row, then evaluate each formula over its row."""
    dialect = engine.dialect.name
    widths, plans = _column_plan(cases)
    number_type = sa.Float() if dialect == "sqlite" else sa.Numeric()
    kinds = {
        "n": number_type,
        "t": sa.Text(),
        "b": sa.Boolean(),
        "d": sa.Date(),
        "dt": sa.DateTime(timezone=True),
    }
    metadata = sa.MetaData()
    table = sa.Table(
        f"formula_vectors_{uuid.uuid4().hex[:8]}",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        *[sa.Column(f"{kind}{i}", kinds[kind]) for kind, width in widths.items() for i in range(width)],
    )
    outcomes: list[Outcome] = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        metadata.create_all(connection)
        try:
            rows = []
            for case, plan in zip(cases, plans, strict=True):
                row = {"id": case.index}
                for name, (type_name, value) in case.flat.items():
                    row[plan[name]] = _stored(dialect, type_name, value)
                rows.append(row)
            for row in rows:  # one insert per row: the columns each row sets differ
                connection.execute(table.insert().values(**row))
            for case, plan in zip(cases, plans, strict=True):
                outcomes.append(_run_sql_case(connection, table, case, plan))
        finally:
            metadata.drop_all(connection)
    return outcomes


def _run_sql_case(connection, table: sa.Table, case: Case, plan: dict[str, str]) -> Outcome:
    expected = case.vector["expected"]
    try:
        compiled = compile_case(case)
        expression = compiled.to_sql({name: table.c[column] for name, column in plan.items()}, now=FIXED_NOW)
    except FormulaError as error:
        return expected_compile_error(case, error)
    if expected.get("phase") == "compile":
        return Outcome(case, False, f"compiled, expected {expected['error']}")
    try:
        actual = connection.execute(sa.select(expression).where(table.c.id == case.index)).scalar_one()
    except sa.exc.DBAPIError as error:
        ok = expected.get("phase") == "runtime"
        return Outcome(case, ok, f"database error {str(error.orig).splitlines()[0]}")
    if expected.get("phase") == "runtime":
        # SQL has no #Error!: a run-time error reads as NULL so one row cannot abort a query.
        return Outcome(case, actual is None, f"returned {actual!r}, expected NULL for {expected['error']}")
    return Outcome(
        case, matches(expected, actual), f"returned {actual!r}, expected {expected.get('value')!r}"
    )


def test_conformance_vectors_pass_on_sql_back_end(conformance_cases, sql_engine):
    outcomes = run_sql(sql_engine, conformance_cases)
    rate, text = report(sql_engine.dialect.name, outcomes)
    print(text)
    assert rate >= REQUIRED_RATE, text
