"""SQL back end: compiles a typed tree into a SQLAlchemy Core expression for SQLite and PostgreSQL.

Where the dialects differ, a Portable element carries both forms and @compiles picks one. Inside an
expression a datetime is a UTC timestamp on PostgreSQL and epoch seconds on SQLite, a time of day is
milliseconds; run-time errors (division by zero, a bad date) become NULL instead of aborting the query.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from formula import semantics
from formula.ast import Const, Field, TypedNode
from formula.errors import FormulaError
from formula.functions import RECORD_ONLY_OPS

NUM = sa.Numeric()
TXT = sa.Text()
BOOL = sa.Boolean()
DATE = sa.Date()
INT = sa.Integer()
FLOAT = sa.Float()
TS = sa.DateTime()
MS_PER_DAY = 86_400_000
_NUMBER_PATTERN = r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
_DATE_PATTERN = r"^\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
_DATETIME_PATTERN = (
    r"^\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]{1,3})?Z?)?\s*$"
)
_TIME_PATTERN = r"^\s*[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]{1,3})?\s*$"


# --- result types: every back end hands callers the same Python values --------------------------


class _RawResult(TypeDecorator):
    """Converts the driver's raw value itself, skipping the dialect's own processing of impl."""

    impl = sa.Numeric
    cache_ok = True

    def result_processor(self, dialect: Any, coltype: Any) -> Callable[[Any], Any]:
        return lambda value: self.process_result_value(value, dialect)


class FormulaNumber(_RawResult):
    """A number result as decimal.Decimal on every dialect (SQLite computes in floats)."""

    impl = sa.Numeric
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


class FormulaDateTime(_RawResult):
    """A datetime result as an aware UTC datetime (SQLite gives text, PostgreSQL timestamptz)."""

    impl = sa.DateTime
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class FormulaDate(_RawResult):
    """A date result as datetime.date (SQLite stores dates as YYYY-MM-DD text)."""

    impl = sa.Date
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> date | None:
        if value is None or isinstance(value, date):
            return value
        return date.fromisoformat(str(value)[:10])


class FormulaTime(_RawResult):
    """A time-of-day result (milliseconds inside SQL) as datetime.time."""

    impl = sa.BigInteger
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> time | None:
        return None if value is None else semantics.time_to_python(int(value))


class FormulaBoolean(_RawResult):
    """A checkbox result as bool (SQLite answers 0/1), blank staying None."""

    impl = sa.Boolean
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> bool | None:
        return None if value is None else bool(value)


# --- the dialect switch ---------------------------------------------------------------------------


class Portable(ColumnElement):
    """One value with a PostgreSQL form and a SQLite form; @compiles picks the dialect's."""

    inherit_cache = False

    def __init__(self, type_: Any, postgresql: ColumnElement, sqlite: ColumnElement) -> None:
        self.type = type_
        self.postgresql = postgresql
        self.sqlite = sqlite

    @property
    def _from_objects(self) -> list[Any]:
        return self.postgresql._from_objects


@compiles(Portable)
def _compile_portable(element: Portable, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.postgresql, **kw)


@compiles(Portable, "sqlite")
def _compile_portable_sqlite(element: Portable, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.sqlite, **kw)


# --- naming an operand once ---------------------------------------------------------------------
#
# Many SQL forms mention an operand more than once (x ^ y tests y three times). Nested, each level
# would double the SQL text, so an operand larger than a few nodes that a form repeats is computed
# once, in a one-row subquery, and the form reads it by name: the SQL grows with the formula.

DIALECTS = ("postgresql", "sqlite")
SMALL_OPERAND_NODES = 12  # an operand this small may be repeated: it adds a constant per mention
_names = itertools.count(1)


class Let(ColumnElement):
    """``body`` computed over ``bindings`` (name -> operand), each operand written once.

    Compiles to ``(SELECT body FROM (SELECT operand AS name ... LIMIT 1 OFFSET 0) AS alias)``; the
    OFFSET keeps both planners from copying the operands back into the body.
    """

    inherit_cache = False

    def __init__(self, body: ColumnElement, bindings: Mapping[str, ColumnElement]) -> None:
        self.type = body.type
        self.body = body
        self.bindings = dict(bindings)

    @property
    def _from_objects(self) -> list[Any]:
        froms: list[Any] = []
        for element in (self.body, *self.bindings.values()):
            froms.extend(f for f in element._from_objects if f not in froms)
        return froms

    def self_group(self, against: Any = None) -> ColumnElement:
        return self


@compiles(Let)
def _compile_let(element: Let, compiler: Any, **kw: Any) -> str:
    # The subquery starts a new SELECT: only the options that change how values render carry over.
    inner = {key: kw[key] for key in ("literal_binds", "literal_execute") if key in kw}
    columns = ", ".join(
        f"{compiler.process(operand, **inner)} AS {name}" for name, operand in element.bindings.items()
    )
    alias = next(iter(element.bindings)) + "_row"
    return f"(SELECT {compiler.process(element.body, **inner)} FROM (SELECT {columns} LIMIT 1 OFFSET 0) AS {alias})"


def _children(element: Any, dialect: str) -> tuple[Any, ...]:
    if isinstance(element, Portable):
        return (getattr(element, dialect),)
    if isinstance(element, Let):
        return (element.body, *element.bindings.values())
    return tuple(element.get_children())


def _walk(element: Any, dialect: str, stop: Callable[[Any], bool]) -> Iterator[Any]:
    """Every node of ``element`` as ``dialect`` compiles it, not descending below a ``stop`` node."""
    stack = [element]
    while stack:
        node = stack.pop()
        yield node
        if not stop(node):
            stack.extend(_children(node, dialect))


def _depth(element: Any, dialect: str) -> int:
    deepest, stack = 0, [(element, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in _children(node, dialect))
    return deepest


def _is_small(operand: Any, dialect: str) -> bool:
    nodes = _walk(operand, dialect, lambda node: isinstance(node, Let))
    for count, node in enumerate(nodes, start=1):
        if isinstance(node, Let) or count > SMALL_OPERAND_NODES:
            return False
    return True


def _repeated_operands(expr: Any, operands: list[Any], dialect: str) -> frozenset[int]:
    """Positions of the large operands that ``expr`` mentions more than once in ``dialect``."""
    positions = {id(operand): i for i, operand in enumerate(operands) if isinstance(operand, ColumnElement)}
    mentions: dict[int, int] = {}
    for node in _walk(expr, dialect, lambda node: id(node) in positions):
        if id(node) in positions:
            mentions[positions[id(node)]] = mentions.get(positions[id(node)], 0) + 1
    return frozenset(
        i for i, count in mentions.items() if count > 1 and not _is_small(operands[i], dialect)
    )


# SQLAlchemy compiles an expression recursively, about three Python frames a node: deeper than this
# would exhaust the interpreter's stack in the middle of a request.
MAX_SQL_DEPTH = 200


def _check_sql_depth(expr: Any) -> None:
    if any(_depth(expr, dialect) > MAX_SQL_DEPTH for dialect in DIALECTS):
        raise FormulaError(
            "The formula is nested too deeply to run in a list, filter or report. "
            "Split it into formula fields that refer to one another.",
            kind="unsupported",
        )


def _op(left: Any, operator: str, right: Any, type_: Any) -> ColumnElement:
    return sa.type_coerce(left, type_).op(operator, return_type=type_)(right).self_group()


def _cmp(left: Any, operator: str, right: Any) -> ColumnElement:
    return left.op(operator, is_comparison=True)(right).self_group()


def _int(expr: Any) -> Portable:
    """Truncate toward zero to an integer, as Salesforce does for counts and positions."""
    return Portable(INT, sa.cast(sa.func.trunc(expr), INT), sa.cast(expr, INT))


def _modulo_positive(expr: Any, modulus: int) -> Portable:
    return Portable(
        INT,
        sa.func.mod(sa.func.mod(expr, modulus) + modulus, modulus),
        _op(_op(_op(expr, "%", modulus, INT), "+", modulus, INT), "%", modulus, INT),
    )


def _at_least(expr: Any, floor: int) -> Portable:
    """max(expr, floor) that stays NULL for NULL (PostgreSQL's GREATEST would skip the NULL)."""
    return Portable(INT, sa.case((_cmp(expr, "<", floor), floor), else_=expr), sa.func.max(expr, floor))


def _from_double(expr: Any) -> ColumnElement:
    """A float8 result as numeric through its shortest text, as Python's repr reads a float."""
    return sa.cast(sa.cast(expr, TXT), NUM)


def _int_div(expr: Any, divisor: int) -> Portable:
    return Portable(INT, sa.func.div(expr, divisor), sa.cast(_op(expr, "/", divisor, INT), INT))


def _position(needle: Any, haystack: Any) -> Portable:
    return Portable(INT, sa.func.strpos(haystack, needle), sa.func.instr(haystack, needle))


def _matches(text: Any, pattern: str) -> Portable:
    """PostgreSQL regular-expression test; SQLite callers use a registered function instead."""
    return _cmp(text, "~", sa.cast(sa.literal(pattern, TXT), TXT))


def _null(type_: Any) -> ColumnElement:
    return sa.cast(sa.null(), type_)


def _text(value: str) -> ColumnElement:
    return sa.cast(sa.literal(value, TXT), TXT)


def _number(value: Decimal | int) -> Portable:
    # PostgreSQL keeps the exact decimal; SQLite computes in integers and floats.
    decimal = Decimal(value)
    whole = decimal == decimal.to_integral_value() and abs(decimal) < 2**62
    sqlite_value = sa.literal(int(decimal), INT) if whole else sa.literal(float(decimal), FLOAT)
    return Portable(NUM, sa.cast(sa.literal(decimal, NUM), NUM), sqlite_value)


class SqlCompiler:
    """Compiles one CompiledFormula's typed tree over the given column expressions."""

    def __init__(self, formula: Any, columns: Mapping[str, Any], *, now: datetime | None = None) -> None:
        self.formula = formula
        self.columns = columns
        self.now = now

    def compile(self) -> ColumnElement:
        """Return the finished expression, its type set so results come back as Python values."""
        try:
            expr = self.emit(self.formula.tree)
            _check_sql_depth(expr)
        except FormulaError as error:
            raise error.with_source(self.formula.source) from None
        return self._finish(expr, self.formula.type)

    def _finish(self, expr: Any, type_name: str) -> ColumnElement:
        if type_name == "percent":
            return sa.type_coerce(_op(expr, "*", _number(100), NUM), FormulaNumber())
        if type_name in ("number", "currency"):
            return sa.type_coerce(expr, FormulaNumber())
        if type_name == "datetime":
            pg = sa.func.timezone("UTC", expr)
            lite = sa.func.strftime("%Y-%m-%d %H:%M:%f", expr, "unixepoch")
            return sa.type_coerce(Portable(TS, pg, lite), FormulaDateTime())
        if type_name == "date":
            return sa.type_coerce(expr, FormulaDate())
        if type_name == "time":
            return sa.type_coerce(expr, FormulaTime())
        if type_name == "boolean":
            return sa.type_coerce(expr, FormulaBoolean())
        if type_name == "multipicklist":
            return sa.type_coerce(expr, TXT)
        return expr

    # --- nodes ---------------------------------------------------------------------------------

    def emit(self, node: TypedNode) -> Any:
        if isinstance(node, Const):
            return self._const(node)
        if isinstance(node, Field):
            return self._field(node)
        if node.op in RECORD_ONLY_OPS:
            raise FormulaError.at(
                node.pos,
                f"{node.op.upper()}() needs the record being saved, so it cannot be used in a list, "
                "filter or report. Use it in validation rules and flows.",
                "unsupported",
            )
        if node.type == "null":
            return sa.null()  # only all-NULL branches have the null type, so the value is NULL
        method: Callable[..., Any] = getattr(self, "_op_" + node.op)
        return self._naming_operands_once(method, node, [self.emit(arg) for arg in node.args])

    def _naming_operands_once(self, method: Callable[..., Any], node: TypedNode, operands: list[Any]) -> Any:
        """``method``'s form of ``node``, each large operand it repeats bound once by a Let."""
        expr = method(node, *operands)
        if not isinstance(expr, ColumnElement):
            return expr  # a GEOLOCATION pair only lives as DISTANCE's argument
        repeated = {dialect: _repeated_operands(expr, operands, dialect) for dialect in DIALECTS}
        if not any(repeated.values()):
            return expr
        forms = {
            dialect: self._let(method, node, operands, positions) if positions else expr
            for dialect, positions in repeated.items()
        }
        if repeated["postgresql"] == repeated["sqlite"]:
            return forms["postgresql"]
        return Portable(expr.type, forms["postgresql"], forms["sqlite"])

    def _let(self, method: Callable[..., Any], node: TypedNode, operands: list[Any], positions) -> Let:
        names = {i: f"formula_let_{next(_names)}" for i in sorted(positions)}
        named = [
            sa.literal_column(names[i], type_=operand.type) if i in names else operand
            for i, operand in enumerate(operands)
        ]
        return Let(method(node, *named), {names[i]: operands[i] for i in names})

    def _const(self, node: Const) -> Any:
        value = node.value
        if value is None:
            # A NULL whose place fixes no type stays untyped, so PostgreSQL infers it from context.
            return sa.null() if node.type == "null" else _null(_SQL_TYPES.get(node.type, TXT))
        if node.type == "boolean":
            return sa.true() if value else sa.false()
        if node.type == "text":
            return _text(value)
        return _number(value)

    def _field(self, node: Field) -> Any:
        try:
            column = self.columns[node.dotted]
        except KeyError:
            raise FormulaError.at(
                node.pos, f"No column was given for field {node.dotted}.", "unknown_field"
            ) from None
        kind = node.type
        zero = self.formula.blank_as_zero
        if kind in ("number", "currency"):
            value = sa.type_coerce(column, NUM)
            return sa.func.coalesce(value, 0) if zero else value
        if kind == "percent":
            value = sa.func.coalesce(column, 0) if zero else column
            # A stored 25 means 25 %, which is 0.25 in arithmetic.
            return Portable(NUM, _op(sa.type_coerce(value, NUM), "/", 100, NUM), _op(value, "/", 100.0, NUM))
        if kind in ("text", "picklist", "multipicklist"):
            return sa.func.nullif(sa.type_coerce(column, TXT), "")
        if kind == "boolean":
            return sa.type_coerce(sa.func.coalesce(column, sa.false()), BOOL)
        if kind == "date":
            return sa.type_coerce(column, DATE)
        return self._datetime_column(column)

    def _datetime_column(self, column: Any) -> Portable:
        timezone_aware = getattr(getattr(column, "type", None), "timezone", False)
        pg = sa.func.timezone("UTC", column) if timezone_aware else column
        lite = sa.func.round((sa.func.julianday(column) - 2440587.5) * 86400.0, 3)
        return Portable(TS, sa.type_coerce(pg, TS), lite)

    # --- arithmetic ------------------------------------------------------------------------------

    def _op_num_add(self, node, a, b):
        return _op(a, "+", b, NUM)

    def _op_num_sub(self, node, a, b):
        return _op(a, "-", b, NUM)

    def _op_num_mul(self, node, a, b):
        return _op(a, "*", b, NUM)

    def _op_num_div(self, node, a, b):
        divisor = sa.func.nullif(b, 0)
        # Scale 28 keeps about the digits of Python's Decimal; PostgreSQL would otherwise keep ~16.
        exact = _op(sa.func.round(sa.type_coerce(a, NUM), 28), "/", divisor, NUM)
        return Portable(NUM, exact, _op(sa.cast(a, FLOAT), "/", divisor, NUM))

    def _op_num_pow(self, node, a, b):
        whole = _cmp(b, "=", sa.func.trunc(b))
        small = sa.or_(
            _cmp(a, "=", 0),
            _cmp(
                _op(sa.func.abs(b), "*", sa.func.log(sa.func.abs(a)), NUM), "<=", semantics.MAX_POWER_DIGITS
            ),
        )
        defined = sa.not_(sa.and_(_cmp(a, "=", 0), _cmp(b, "<", 0)))
        pg = sa.case(
            (sa.and_(whole, defined, sa.case((_cmp(a, "=", 0), sa.true()), else_=small)), sa.func.power(a, b))
        )
        return Portable(NUM, pg, sa.func.formula_power(a, b))

    def _op_neg(self, node, a):
        return (-sa.type_coerce(a, NUM)).self_group()

    def _op_abs(self, node, a):
        return sa.func.abs(a, type_=NUM)

    # Whole-number functions settle their argument first, as semantics.settle does: 15 places on
    # PostgreSQL's exact numerics, 9 on SQLite's floats, so (1/9)*9 is 1 on both.
    def _op_ceiling(self, node, a):
        settled = sa.func.round(sa.type_coerce(a, NUM), 15)
        pg = sa.func.sign(settled) * sa.func.ceil(sa.func.abs(settled))
        lite_a = sa.func.round(a, 9)
        t = sa.cast(lite_a, INT)
        lite = sa.case((_cmp(lite_a, "=", t), t), (_cmp(lite_a, ">", 0), t + 1), else_=t - 1)
        return Portable(NUM, pg, lite)

    def _op_floor(self, node, a):
        pg = sa.func.trunc(sa.func.round(sa.type_coerce(a, NUM), 15))
        return Portable(NUM, pg, sa.cast(sa.func.round(a, 9), INT))

    def _op_mceiling(self, node, a):
        lite_a = sa.func.round(a, 9)
        t = sa.cast(lite_a, INT)
        pg = sa.func.ceil(sa.func.round(sa.type_coerce(a, NUM), 15))
        return Portable(NUM, pg, sa.case((_cmp(lite_a, ">", t), t + 1), else_=t))

    def _op_mfloor(self, node, a):
        lite_a = sa.func.round(a, 9)
        t = sa.cast(lite_a, INT)
        pg = sa.func.floor(sa.func.round(sa.type_coerce(a, NUM), 15))
        return Portable(NUM, pg, sa.case((_cmp(lite_a, "<", t), t - 1), else_=t))

    def _op_round(self, node, a, digits):
        return Portable(
            NUM, sa.func.round(sa.type_coerce(a, NUM), _int(digits)), sa.func.formula_round(a, digits)
        )

    def _op_trunc(self, node, a, digits=None):
        digits = digits if digits is not None else _number(0)
        return Portable(
            NUM, sa.func.trunc(sa.type_coerce(a, NUM), _int(digits)), sa.func.formula_trunc(a, digits)
        )

    def _op_mod(self, node, a, b):
        return Portable(NUM, sa.func.mod(a, sa.func.nullif(b, 0)), sa.func.formula_mod(a, b))

    def _op_sqrt(self, node, a):
        pg = sa.case((_cmp(a, ">=", 0), _from_double(sa.func.sqrt(sa.cast(a, FLOAT)))))
        return Portable(NUM, pg, sa.func.formula_sqrt(a))

    def _op_exp(self, node, a):
        pg = sa.case((_cmp(a, "<", 700), _from_double(sa.func.exp(sa.cast(a, FLOAT)))))
        return Portable(NUM, pg, sa.func.formula_exp(a))

    def _op_ln(self, node, a):
        pg = sa.case((_cmp(a, ">", 0), _from_double(sa.func.ln(sa.cast(a, FLOAT)))))
        return Portable(NUM, pg, sa.func.formula_ln(a))

    def _op_log(self, node, a):
        pg = sa.case((_cmp(a, ">", 0), _from_double(sa.func.log(sa.cast(a, FLOAT)))))
        return Portable(NUM, pg, sa.func.formula_log10(a))

    def _extreme(self, args, postgresql: str) -> Portable:
        if len(args) == 1:
            return args[0]
        blank = sa.or_(*[arg.is_(None) for arg in args])
        pg = sa.case((blank, _null(NUM)), else_=getattr(sa.func, postgresql)(*args))
        lite = getattr(sa.func, "max" if postgresql == "greatest" else "min")(*args)
        return Portable(NUM, pg, lite)

    def _op_max(self, node, *args):
        return self._extreme(args, "greatest")

    def _op_min(self, node, *args):
        return self._extreme(args, "least")

    def _op_geolocation(self, node, lat, lon):
        return (lat, lon)  # a location only exists as an argument of DISTANCE

    def _op_distance(self, node, first, second, unit):
        unit_name = str(node.args[2].value).lower()
        lat1, lon1 = first
        lat2, lon2 = second
        pg = self._haversine(lat1, lon1, lat2, lon2, semantics.EARTH_RADIUS[unit_name])
        lite = sa.func.formula_distance(lat1, lon1, lat2, lon2, unit_name)
        return Portable(NUM, pg, lite)

    def _haversine(self, lat1, lon1, lat2, lon2, radius: float) -> ColumnElement:
        valid = sa.and_(
            *[_cmp(sa.func.abs(lat), "<=", 90) for lat in (lat1, lat2)],
            *[_cmp(sa.func.abs(lon), "<=", 180) for lon in (lon1, lon2)],
        )
        r = [sa.func.radians(sa.cast(x, FLOAT)) for x in (lat1, lon1, lat2, lon2)]
        h = sa.func.power(sa.func.sin((r[2] - r[0]) / 2), 2) + sa.func.cos(r[0]) * sa.func.cos(
            r[2]
        ) * sa.func.power(sa.func.sin((r[3] - r[1]) / 2), 2)
        distance = 2 * radius * sa.func.asin(sa.func.least(1.0, sa.func.sqrt(h)))
        return sa.case((valid, sa.cast(distance, NUM)))

    # --- logic ---------------------------------------------------------------------------------

    def _op_and(self, node, *args):
        return sa.and_(*[sa.func.coalesce(arg, sa.false()) for arg in args]).self_group()

    def _op_or(self, node, *args):
        return sa.or_(*[sa.func.coalesce(arg, sa.false()) for arg in args]).self_group()

    def _op_not(self, node, a):
        return sa.not_(sa.type_coerce(a, BOOL)).self_group()

    def _op_if(self, node, test, yes, no):
        return sa.type_coerce(sa.case((test, yes), else_=no), _SQL_TYPES.get(node.type, TXT))

    def _op_case(self, node, subject, *rest):
        # The simple form names the subject once however many values it is compared with.
        whens = list(zip(rest[0:-1:2], rest[1:-1:2], strict=True))
        return sa.type_coerce(sa.case(*whens, value=subject, else_=rest[-1]), _SQL_TYPES.get(node.type, TXT))

    def _op_isblank(self, node, a):
        if isinstance(a, tuple):
            return sa.or_(a[0].is_(None), a[1].is_(None))
        return a.is_(None)

    def _op_isnull(self, node, a):
        return self._op_isblank(node, a)

    def _op_blankvalue(self, node, a, substitute):
        return sa.type_coerce(sa.func.coalesce(a, substitute), _SQL_TYPES.get(node.type, TXT))

    def _op_nullvalue(self, node, a, substitute):
        return self._op_blankvalue(node, a, substitute)

    def _op_identity(self, node, a):
        return a

    def _op_eq(self, node, a, b):
        return _cmp(a, "=", b)

    def _op_ne(self, node, a, b):
        return _cmp(a, "<>", b)

    def _op_lt(self, node, a, b):
        return _cmp(a, "<", b)

    def _op_le(self, node, a, b):
        return _cmp(a, "<=", b)

    def _op_gt(self, node, a, b):
        return _cmp(a, ">", b)

    def _op_ge(self, node, a, b):
        return _cmp(a, ">=", b)

    def _op_text_eq(self, node, a, b):
        return _cmp(sa.func.coalesce(a, ""), "=", sa.func.coalesce(b, ""))

    def _op_text_ne(self, node, a, b):
        return _cmp(sa.func.coalesce(a, ""), "<>", sa.func.coalesce(b, ""))

    def _text_order(self, a, operator: str, b) -> ColumnElement:
        # Ordering against blank text is FALSE; "C" collation orders by code point, as Python does.
        compared = Portable(BOOL, _cmp(a.collate("C"), operator, b), _cmp(a, operator, b))
        return sa.case((sa.or_(a.is_(None), b.is_(None)), sa.false()), else_=compared)

    def _op_text_lt(self, node, a, b):
        return self._text_order(a, "<", b)

    def _op_text_le(self, node, a, b):
        return self._text_order(a, "<=", b)

    def _op_text_gt(self, node, a, b):
        return self._text_order(a, ">", b)

    def _op_text_ge(self, node, a, b):
        return self._text_order(a, ">=", b)

    def _op_isnumber(self, node, t):
        pg = sa.func.coalesce(_matches(t, _NUMBER_PATTERN), sa.false())
        return Portable(BOOL, pg, sa.func.formula_isnumber(t))

    def _op_ispickval(self, node, value, wanted):
        return _cmp(sa.func.coalesce(value, ""), "=", sa.func.coalesce(wanted, ""))

    def _op_includes(self, node, values, wanted):
        found = _cmp(
            _position(
                _op(_op(";", "||", wanted, TXT), "||", ";", TXT),
                _op(_op(";", "||", values, TXT), "||", ";", TXT),
            ),
            ">",
            0,
        )
        return sa.func.coalesce(found, sa.false())

    # --- text ------------------------------------------------------------------------------------

    def _op_concat(self, node, a, b):
        return sa.func.nullif(_op(sa.func.coalesce(a, ""), "||", sa.func.coalesce(b, ""), TXT), "")

    def _op_len(self, node, t):
        return sa.func.coalesce(sa.func.length(t), 0, type_=NUM)

    def _op_left(self, node, t, n):
        return sa.func.nullif(sa.func.substr(t, 1, _at_least(_int(n), 0)), "", type_=TXT)

    def _op_right(self, node, t, n):
        count = _int(n)
        pg = sa.func.right(t, _at_least(count, 0))
        lite = sa.case((_cmp(count, "<=", 0), ""), else_=sa.func.substr(t, -count))
        return sa.func.nullif(Portable(TXT, pg, lite), "", type_=TXT)

    def _op_mid(self, node, t, start, n):
        begin, count = _at_least(_int(start), 1), _at_least(_int(n), 0)
        return sa.func.nullif(sa.func.substr(t, begin, count), "", type_=TXT)

    def _op_find(self, node, needle, haystack, start=None):
        start = start if start is not None else _number(1)
        begin = _int(start)
        found = _position(needle, sa.func.substr(haystack, begin))
        blank = sa.or_(needle.is_(None), haystack.is_(None), start.is_(None), _cmp(begin, "<", 1))
        position = _op(_op(found, "+", begin, INT), "-", 1, INT)
        return sa.type_coerce(sa.case((blank, 0), (_cmp(found, "=", 0), 0), else_=position), NUM)

    def _op_contains(self, node, t, needle):
        return sa.case(
            (needle.is_(None), sa.true()),
            (t.is_(None), _null(BOOL)),
            else_=_cmp(_position(needle, t), ">", 0),
        )

    def _op_begins(self, node, t, prefix):
        starts = _cmp(sa.func.substr(t, 1, sa.func.length(prefix)), "=", prefix)
        return sa.case((prefix.is_(None), sa.true()), (t.is_(None), _null(BOOL)), else_=starts)

    def _op_lower(self, node, t, locale=None):
        locale = locale if locale is not None else _null(TXT)
        return Portable(TXT, self._turkic(t, locale, lower=True), sa.func.formula_lower(t, locale))

    def _op_upper(self, node, t, locale=None):
        locale = locale if locale is not None else _null(TXT)
        return Portable(TXT, self._turkic(t, locale, lower=False), sa.func.formula_upper(t, locale))

    def _turkic(self, t, locale, *, lower: bool) -> ColumnElement:
        function = sa.func.lower if lower else sa.func.upper
        language = sa.func.lower(sa.func.split_part(sa.func.replace(locale, "-", "_"), "_", 1))
        if lower:
            turkic = sa.func.replace(sa.func.replace(t, "I", "ı"), "İ", "i")  # noqa: RUF001 - Turkish dotless i
        else:
            turkic = sa.func.replace(t, "i", "İ")
        return sa.case((language.in_(["tr", "az"]), function(turkic)), else_=function(t))

    def _op_trim(self, node, t):
        chars = semantics.TRIM_CHARACTERS
        return sa.func.nullif(Portable(TXT, sa.func.btrim(t, chars), sa.func.trim(t, chars)), "", type_=TXT)

    def _op_substitute(self, node, t, old, new):
        replaced = sa.func.nullif(sa.func.replace(t, old, sa.func.coalesce(new, "")), "")
        return sa.type_coerce(sa.case((old.is_(None), t), else_=replaced), TXT)

    def _op_text_number(self, node, a):
        return Portable(
            TXT, sa.cast(sa.func.trim_scale(sa.type_coerce(a, NUM)), TXT), sa.func.formula_text_number(a)
        )

    def _op_value(self, node, t):
        pg = sa.case((_matches(t, _NUMBER_PATTERN), sa.cast(sa.func.trim(t), NUM)))
        return Portable(NUM, pg, sa.func.formula_value(t))

    def _op_lpad(self, node, t, n, pad=None):
        return self._pad(t, n, pad, "lpad")

    def _op_rpad(self, node, t, n, pad=None):
        return self._pad(t, n, pad, "rpad")

    def _pad(self, t, n, pad, name: str) -> Portable:
        pad = pad if pad is not None else _text(" ")
        width = _int(n)
        pg_pad = getattr(sa.func, name)(t, _at_least(width, 0), sa.func.coalesce(pad, " "))
        pg = sa.func.nullif(
            sa.case((_cmp(sa.func.coalesce(pad, " "), "=", ""), sa.func.left(t, width)), else_=pg_pad), ""
        )
        lite = getattr(sa.func, "formula_" + name)(t, n, pad)
        return Portable(TXT, pg, lite)

    def _op_regex(self, node, t, pattern):
        constant = node.args[1]
        if not isinstance(constant, Const):
            # A pattern read from a record could be invalid on some row only, and PostgreSQL would
            # then fail the whole query; a written pattern is checked once, here.
            raise FormulaError.at(
                constant.pos,
                "REGEX needs its pattern written in the formula (a text in quotes) to be used in a "
                "list, filter or report.",
                "unsupported",
            )
        if constant.value is not None:
            # Refused here, as the Python back end refuses it, not as a database error mid-query.
            semantics.regex("", constant.value, constant.pos)
        anchored = _op(_op("^(?:", "||", pattern, TXT), "||", ")$", TXT)
        pg = sa.case((pattern.is_(None), sa.false()), else_=_cmp(sa.func.coalesce(t, ""), "~", anchored))
        return Portable(BOOL, pg, sa.func.formula_regex(t, pattern))

    def _op_hyperlink(self, node, url, label, target=None):
        def escape(x):
            for old, new in (("&", "&amp;"), ('"', "&quot;"), ("<", "&lt;"), (">", "&gt;")):
                x = sa.func.replace(x, old, new)
            return x

        target_part = (
            sa.case(
                (target.is_(None), ""), else_=_op(_op(' target="', "||", escape(target), TXT), "||", '"', TXT)
            )
            if target is not None
            else _text("")
        )
        parts = [
            '<a href="',
            escape(url),
            '"',
            target_part,
            ">",
            escape(sa.func.coalesce(label, url)),
            "</a>",
        ]
        link = parts[0]
        for part in parts[1:]:
            link = _op(link, "||", part, TXT)
        return sa.type_coerce(sa.case((url.is_(None), label), else_=link), TXT)

    def _op_br(self, node):
        return _text("<br>")

    def _op_casesafeid(self, node, t):
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
        suffix = _text("")
        for chunk in range(3):
            bits = 0
            for i in range(5):
                char = sa.func.ascii(sa.func.substr(t, chunk * 5 + i + 1, 1))
                bits = _op(bits, "+", sa.case((char.between(65, 90), 1 << i), else_=0), INT)
            suffix = _op(suffix, "||", sa.func.substr(alphabet, _op(bits, "+", 1, INT), 1), TXT)
        pg = sa.case((_cmp(sa.func.length(t), "=", 15), _op(t, "||", suffix, TXT)), else_=t)
        return Portable(TXT, pg, sa.func.formula_casesafeid(t))

    # --- dates and times ----------------------------------------------------------------------

    def _today(self) -> ColumnElement:
        if self.now is not None:
            return sa.literal(semantics.today(self.now), DATE)
        return Portable(DATE, sa.cast(sa.func.timezone("UTC", sa.func.now()), DATE), sa.func.date("now"))

    def _op_today(self, node):
        today = self._today()
        return Portable(DATE, today, sa.func.date(today)) if self.now is not None else today

    def _op_now(self, node):
        if self.now is not None:
            moment = self.now.astimezone(UTC)
            epoch = (moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
            return Portable(
                TS, sa.literal(moment.replace(tzinfo=None), TS), sa.literal(round(epoch, 3), FLOAT)
            )
        return Portable(
            TS,
            sa.func.timezone("UTC", sa.func.now()),
            sa.func.round((sa.func.julianday("now") - 2440587.5) * 86400.0, 3),
        )

    def _safe_date(self, y, m, d) -> ColumnElement:
        """make_date that yields NULL for an impossible date instead of raising (PostgreSQL)."""
        yi, mi, di = _int(y), _int(m), _int(d)
        cy = sa.func.least(sa.func.greatest(yi, 1), 9999)
        cm = sa.func.least(sa.func.greatest(mi, 1), 12)
        cd = sa.func.least(sa.func.greatest(di, 1), 31)
        first = sa.func.make_date(cy, cm, 1)
        built = sa.cast(first + sa.func.make_interval(0, 0, 0, cd - 1), DATE)
        valid = sa.and_(
            _cmp(cy, "=", yi),
            _cmp(cm, "=", mi),
            _cmp(cd, "=", di),
            _cmp(sa.func.extract("month", built), "=", mi),
        )
        return sa.type_coerce(sa.case((valid, built)), DATE)

    def _op_date(self, node, y, m, d):
        return Portable(DATE, self._safe_date(y, m, d), sa.func.formula_date(y, m, d))

    def _parts(self, t, index: int, separator: str = "-") -> ColumnElement:
        return sa.cast(sa.func.nullif(sa.func.split_part(t, separator, index), ""), NUM)

    def _op_datevalue_text(self, node, t):
        head = sa.func.split_part(sa.func.split_part(sa.func.trim(t), " ", 1), "T", 1)
        parsed = self._safe_date(self._parts(head, 1), self._parts(head, 2), self._parts(head, 3))
        valid = sa.and_(
            _matches(t, _DATE_PATTERN),
            sa.or_(_matches(t, _DATETIME_PATTERN), _matches(t, r"^\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}\s*$")),
        )
        return Portable(DATE, sa.case((valid, parsed)), sa.func.formula_datevalue(t))

    def _op_datevalue_datetime(self, node, moment):
        return Portable(DATE, sa.cast(moment, DATE), sa.func.date(moment, "unixepoch"))

    def _op_datetimevalue_text(self, node, t):
        trimmed = sa.func.replace(sa.func.replace(sa.func.trim(t), "T", " "), "Z", "")
        head = sa.func.split_part(trimmed, " ", 1)
        clock = sa.func.nullif(sa.func.split_part(trimmed, " ", 2), "")
        day = self._safe_date(self._parts(head, 1), self._parts(head, 2), self._parts(head, 3))
        ms = self._clock_millis(sa.func.coalesce(clock, "0:0:0"))
        pg = sa.case(
            (
                sa.and_(_matches(t, _DATETIME_PATTERN), ms.is_not(None)),
                sa.cast(day, TS) + sa.func.make_interval(0, 0, 0, 0, 0, 0, _op(ms, "/", 1000.0, NUM)),
            )
        )
        return Portable(TS, pg, sa.func.formula_datetimevalue(t))

    def _clock_millis(self, clock) -> ColumnElement:
        hours, minutes = self._parts(clock, 1, ":"), self._parts(clock, 2, ":")
        seconds = self._parts(clock, 3, ":")
        valid = sa.and_(_cmp(hours, "<=", 23), _cmp(minutes, "<=", 59), _cmp(seconds, "<", 60))
        total = _op(_op(_op(_op(hours, "*", 60, NUM), "+", minutes, NUM), "*", 60, NUM), "+", seconds, NUM)
        return sa.case((valid, sa.cast(sa.func.round(_op(total, "*", 1000, NUM)), sa.BigInteger)))

    def _op_datetimevalue_date(self, node, day):
        return Portable(
            TS, sa.cast(day, TS), sa.func.round((sa.func.julianday(day) - 2440587.5) * 86400.0, 3)
        )

    def _extract(self, field: str, day, sqlite_format: str) -> Portable:
        pg = sa.cast(sa.func.extract(field, day), NUM)
        return Portable(NUM, pg, sa.cast(sa.func.strftime(sqlite_format, day), INT))

    def _op_year(self, node, day):
        return self._extract("year", day, "%Y")

    def _op_month(self, node, day):
        return self._extract("month", day, "%m")

    def _op_day(self, node, day):
        return self._extract("day", day, "%d")

    def _op_weekday(self, node, day):
        pg = sa.cast(sa.func.extract("dow", day), NUM) + 1
        return Portable(NUM, pg, sa.cast(sa.func.strftime("%w", day), INT) + 1)

    def _op_dayofyear(self, node, day):
        return self._extract("doy", day, "%j")

    def _op_isoweek(self, node, day):
        return Portable(NUM, sa.cast(sa.func.extract("week", day), NUM), sa.func.formula_isoweek(day))

    def _op_isoyear(self, node, day):
        return Portable(NUM, sa.cast(sa.func.extract("isoyear", day), NUM), sa.func.formula_isoyear(day))

    def _pg_add_months(self, day, n) -> ColumnElement:
        months = _int(n)
        month_start = sa.func.date_trunc("month", day)
        is_month_end = _cmp(day, "=", sa.cast(month_start + sa.text("interval '1 month - 1 day'"), DATE))
        moved_end = sa.cast(
            month_start + sa.func.make_interval(0, _op(months, "+", 1, INT)) - sa.text("interval '1 day'"),
            DATE,
        )
        moved = sa.cast(day + sa.func.make_interval(0, months), DATE)
        return sa.case((is_month_end, moved_end), else_=moved)

    def _op_addmonths(self, node, day, n):
        return Portable(DATE, self._pg_add_months(day, n), sa.func.formula_addmonths(day, n))

    def _op_addmonths_datetime(self, node, moment, n):
        day = sa.cast(moment, DATE)
        pg = sa.cast(self._pg_add_months(day, n), TS) + (moment - sa.cast(day, TS))
        return Portable(TS, pg, sa.func.formula_addmonths_epoch(moment, n))

    def _op_date_add(self, node, day, n):
        return Portable(
            DATE, day + _int(n), sa.func.date(day, _op(sa.cast(_int(n), TXT), "||", " days", TXT))
        )

    def _op_date_sub(self, node, day, n):
        return Portable(
            DATE, day - _int(n), sa.func.date(day, _op(sa.cast(-_int(n), TXT), "||", " days", TXT))
        )

    def _op_date_diff(self, node, a, b):
        pg = sa.cast(_op(a, "-", b, INT), NUM)
        lite = sa.cast(sa.func.round(sa.func.julianday(a) - sa.func.julianday(b)), INT)
        return Portable(NUM, pg, lite)

    def _seconds(self, n) -> ColumnElement:
        return sa.func.round(_op(n, "*", 86400, NUM))

    def _op_datetime_add(self, node, moment, n):
        pg = moment + sa.func.make_interval(0, 0, 0, 0, 0, 0, self._seconds(n))
        return Portable(TS, pg, _op(moment, "+", sa.func.round(_op(n, "*", 86400.0, NUM)), FLOAT))

    def _op_datetime_sub(self, node, moment, n):
        pg = moment - sa.func.make_interval(0, 0, 0, 0, 0, 0, self._seconds(n))
        return Portable(TS, pg, _op(moment, "-", sa.func.round(_op(n, "*", 86400.0, NUM)), FLOAT))

    def _op_datetime_diff(self, node, a, b):
        pg = _op(sa.func.round(sa.cast(sa.func.extract("epoch", a - b), NUM), 28), "/", 86400, NUM)
        return Portable(NUM, pg, _op(_op(a, "-", b, FLOAT), "/", 86400.0, NUM))

    def _op_time_add(self, node, t, n):
        return _modulo_positive(_op(t, "+", _int(n), INT), MS_PER_DAY)

    def _op_time_sub(self, node, t, n):
        return _modulo_positive(_op(t, "-", _int(n), INT), MS_PER_DAY)

    def _op_time_diff(self, node, a, b):
        return sa.type_coerce(_modulo_positive(_op(a, "-", b, INT), MS_PER_DAY), NUM)

    def _op_timevalue_text(self, node, t):
        pg = sa.case((_matches(t, _TIME_PATTERN), self._clock_millis(sa.func.trim(t))))
        return Portable(INT, pg, sa.func.formula_timevalue(t))

    def _op_timevalue_datetime(self, node, moment):
        pg = sa.cast(
            sa.func.floor(sa.func.extract("epoch", moment - sa.func.date_trunc("day", moment)) * 1000),
            sa.BigInteger,
        )
        lite = _modulo_positive(sa.cast(sa.func.round(_op(moment, "*", 1000, FLOAT)), INT), MS_PER_DAY)
        return Portable(INT, pg, lite)

    def _op_hour(self, node, t):
        return sa.type_coerce(_int_div(t, 3_600_000), NUM)

    def _op_minute(self, node, t):
        return sa.type_coerce(_modulo_positive(_int_div(t, 60_000), 60), NUM)

    def _op_second(self, node, t):
        return sa.type_coerce(_modulo_positive(_int_div(t, 1000), 60), NUM)

    def _op_millisecond(self, node, t):
        return sa.type_coerce(_modulo_positive(t, 1000), NUM)

    def _two_digits(self, n) -> ColumnElement:
        return Portable(TXT, sa.func.lpad(sa.cast(n, TXT), 2, "0"), sa.func.printf("%02d", n))

    def _op_text_date(self, node, day):
        return Portable(TXT, sa.func.to_char(day, "YYYY-MM-DD"), sa.func.strftime("%Y-%m-%d", day))

    def _op_text_datetime(self, node, moment):
        pg = sa.func.to_char(moment, 'YYYY-MM-DD HH24:MI:SS"Z"')
        lite = sa.func.strftime("%Y-%m-%d %H:%M:%SZ", moment, "unixepoch")  # %S truncates, as Python
        return Portable(TXT, pg, lite)

    def _op_text_time(self, node, t):
        pg = sa.func.concat(
            sa.func.lpad(sa.cast(sa.func.div(t, 3_600_000), TXT), 2, "0"),
            ":",
            sa.func.lpad(sa.cast(sa.func.mod(sa.func.div(t, 60_000), 60), TXT), 2, "0"),
            ":",
            sa.func.lpad(sa.cast(sa.func.mod(sa.func.div(t, 1000), 60), TXT), 2, "0"),
            ".",
            sa.func.lpad(sa.cast(sa.func.mod(t, 1000), TXT), 3, "0"),
        )
        lite = sa.func.printf(
            "%02d:%02d:%02d.%03d", t / 3_600_000, (t / 60_000) % 60, (t / 1000) % 60, t % 1000
        )
        return sa.case((t.is_(None), _null(TXT)), else_=Portable(TXT, pg, lite))

    def _duration(self, seconds, with_days) -> ColumnElement:
        total = sa.func.abs(sa.cast(sa.func.trunc(seconds), sa.BigInteger))

        def pad(n):
            return sa.case((_cmp(n, "<", 10), _op("0", "||", sa.cast(n, TXT), TXT)), else_=sa.cast(n, TXT))

        hours, minutes, secs = (
            sa.func.div(total, 3600),
            sa.func.mod(sa.func.div(total, 60), 60),
            sa.func.mod(total, 60),
        )
        tail = sa.func.concat(":", pad(minutes), ":", pad(secs))
        plain = sa.func.concat(pad(hours), tail)
        daily = sa.func.concat(
            sa.cast(sa.func.div(total, 86400), TXT), ":", pad(sa.func.mod(hours, 24)), tail
        )
        return sa.case(
            (seconds.is_(None), _null(TXT)), (sa.func.coalesce(with_days, sa.false()), daily), else_=plain
        )

    def _op_formatduration(self, node, seconds, with_days=None):
        with_days = with_days if with_days is not None else sa.false()
        return Portable(
            TXT, self._duration(seconds, with_days), sa.func.formula_formatduration(seconds, with_days)
        )

    def _op_formatduration_datetime(self, node, a, b):
        pg = self._duration(sa.func.extract("epoch", a - b), sa.true())
        lite = sa.func.formula_formatduration(_op(a, "-", b, FLOAT), 1)
        return Portable(TXT, pg, lite)

    def _op_formatduration_time(self, node, a, b):
        seconds = _int_div(sa.func.abs(_op(a, "-", b, INT)), 1000)
        return Portable(TXT, self._duration(seconds, sa.false()), sa.func.formula_formatduration(seconds, 0))


_SQL_TYPES = {
    "number": NUM,
    "currency": NUM,
    "percent": NUM,
    "text": TXT,
    "picklist": TXT,
    "multipicklist": TXT,
    "boolean": BOOL,
    "date": DATE,
    "datetime": TS,
    "time": INT,
    "null": TXT,
}
