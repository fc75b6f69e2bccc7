"""The compile entry point and CompiledFormula, the one object callers hold for a formula.

It owns the typed tree, the declared result type, and the final touches both back ends share
(a percent result is shown x100; a time of day leaves as datetime.time).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import DecimalException
from typing import Any

from formula import semantics
from formula.ast import Field, TypedNode, walk
from formula.checker import check
from formula.errors import FormulaError
from formula.parser import parse
from formula.pyback import PythonCompiler, RecordContext
from formula.types import DISPLAY, FORMULA_TYPES, INTERNAL_TYPES, Schema, normalise_type, unify

_EMPTY: Mapping[str, Any] = {}


class CompiledFormula:
    """A checked formula, ready to evaluate a record or to become a SQL expression."""

    def __init__(self, source: str, tree: TypedNode, result_type: str, *, blank_as_zero: bool) -> None:
        self.source = source
        self.tree = tree
        self.type = result_type
        self.blank_as_zero = blank_as_zero
        self.paths: frozenset[str] = frozenset(n.dotted for n in walk(tree) if isinstance(n, Field))
        compiler = PythonCompiler(blank_as_zero=blank_as_zero)
        self._function = compiler.compile(tree)
        self._uses_context = compiler.uses_context
        self._finish = _FINISHERS.get(result_type)
        self._plain = not self._uses_context and self._finish is None
        if self._plain:
            self.evaluate = self._plain_evaluator()   # type: ignore[method-assign]

    def _plain_evaluator(self) -> Any:
        """The common case (no context, no finishing touch) as one closure: evaluate runs once per
        record, and a bound method with its checks costs about a tenth of a simple formula."""
        function, source, evaluation_error = self._function, self.source, self._evaluation_error

        def evaluate(values: Mapping[str, Any], *, prior: Mapping[str, Any] | None = None,
                     is_new: bool = False, now: datetime | None = None) -> Any:
            try:
                return function(values, None)
            except FormulaError as error:
                raise error.with_source(source) from None
            except (DecimalException, ArithmeticError, ValueError) as error:
                raise evaluation_error(error) from None

        return evaluate

    def __repr__(self) -> str:
        return f"<CompiledFormula {self.source!r} -> {self.type}>"

    def evaluate(
        self,
        values: Mapping[str, Any],
        *,
        prior: Mapping[str, Any] | None = None,
        is_new: bool = False,
        now: datetime | None = None,
    ) -> Any:
        """Return the formula's value for one record (None when blank); raise FormulaError on #Error!.

        ``prior`` holds the record's previous values for ISCHANGED and PRIORVALUE, ``is_new`` feeds
        ISNEW, and ``now`` (an aware UTC datetime) is the clock TODAY and NOW read.
        """
        # Plain formulas never get here: __init__ puts _plain_evaluator's closure in its place.
        context = None
        if self._uses_context:
            context = RecordContext(prior if prior is not None else _EMPTY, is_new, now or datetime.now(UTC))
        try:
            result = self._function(values, context)
        except FormulaError as error:
            raise error.with_source(self.source) from None
        except (DecimalException, ArithmeticError, ValueError) as error:
            raise self._evaluation_error(error) from None
        if self._finish is None or result is None:
            return result
        return self._finish(result)

    def _evaluation_error(self, error: Exception) -> FormulaError:
        return FormulaError(
            f"The formula could not be evaluated: {error}.", kind="evaluation_error", source=self.source
        )

    def to_sql(self, columns: Mapping[str, Any], *, now: datetime | None = None) -> Any:
        """Return a SQLAlchemy expression computing the formula in a query.

        ``columns`` maps each path in ``paths`` to a column expression (joins are the caller's).
        Record-only functions (ISNEW, ISCHANGED, PRIORVALUE) raise FormulaError. Run-time errors
        such as a division by zero yield NULL in SQL, so one bad row cannot abort a whole list.
        """
        from formula.sqlback import SqlCompiler  # SQLAlchemy is only needed by callers that query

        return SqlCompiler(self, columns, now=now).compile()


_FINISHERS = {
    "percent": lambda value: value * semantics.HUNDRED,
    "time": semantics.time_to_python,
}


def compile(
    source: str,
    fields: Mapping[str, Any],
    *,
    blank_as_zero: bool = False,
    returns: str | None = None,
) -> CompiledFormula:
    """Parse, type-check and compile ``source`` against ``fields``; raise FormulaError if it is wrong.

    ``fields`` maps names to type names (text, number, currency, percent, boolean, date, datetime,
    picklist, multipicklist) or, for a lookup, to a nested mapping of its fields. ``blank_as_zero``
    is Salesforce's "Treat blank fields as zeroes". ``returns`` declares the result type (a percent
    result is the stored number, x100); None keeps the inferred type.
    """
    try:
        schema = Schema.build(fields)
        tree = check(parse(source), schema)
        result_type = _result_type(tree.type, returns)
    except FormulaError as error:
        raise error.with_source(source) from None
    return CompiledFormula(source, tree, result_type, blank_as_zero=blank_as_zero)


def _result_type(inferred: str, returns: str | None) -> str:
    if returns is None:
        return inferred
    declared = normalise_type(returns)
    if declared not in FORMULA_TYPES and declared not in INTERNAL_TYPES:
        raise FormulaError(
            f"Unknown result type '{returns}'. Use one of: {', '.join(FORMULA_TYPES)}.",
            kind="invalid_argument",
        )
    if unify(inferred, declared) is None:
        raise FormulaError(
            f"Formula result is data type ({DISPLAY.get(inferred, inferred)}), incompatible with "
            f"expected data type ({DISPLAY.get(declared, declared)}).",
            kind="type_mismatch",
        )
    return declared
