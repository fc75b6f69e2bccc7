"""Python back end: compiles a typed tree into one Python function over a record's values.

Code is generated from the typed tree only: user text (literals, field names) reaches the generated
function as bound constants, never as source, so no formula can name a Python builtin or attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from formula import semantics as s
from formula.ast import Apply, Const, Field, TypedNode

RecordFunction = Callable[[Mapping[str, Any], "RecordContext"], Any]


@dataclass(frozen=True, slots=True)
class RecordContext:
    """What a formula may know besides the record: its prior values, whether it is new, the clock."""

    prior: Mapping[str, Any]
    is_new: bool
    now: datetime


class _Code(NamedTuple):
    text: str
    nullable: bool


def read_path(values: Mapping[str, Any] | None, path: tuple[str, ...]) -> Any:
    """Follow a lookup path through nested mappings; a blank lookup reads as blank."""
    for key in path:
        if values is None:
            return None
        values = values.get(key)
    return values


# op -> (runtime function, passes the node position for errors, result may be None)
_STRICT: dict[str, tuple[Callable[..., Any], bool, bool]] = {
    "num_div": (s.divide, True, False),
    "num_pow": (s.power, True, False),
    "abs": (abs, False, False),
    "ceiling": (s.ceiling, False, False),
    "floor": (s.floor, False, False),
    "mceiling": (s.mceiling, False, False),
    "mfloor": (s.mfloor, False, False),
    "round": (s.round_half_up, False, False),
    "trunc": (s.trunc, False, False),
    "mod": (s.modulo, True, False),
    "sqrt": (s.square_root, True, False),
    "exp": (s.exponential, True, False),
    "ln": (s.natural_log, True, False),
    "log": (s.log10, True, False),
    "max": (max, False, False),
    "min": (min, False, False),
    "distance": (s.distance, False, False),
    "left": (s.left, False, True),
    "right": (s.right, False, True),
    "mid": (s.mid, False, True),
    "trim": (s.trim, False, True),
    "text_number": (s.text_of_number, False, False),
    "text_date": (s.text_of_date, False, False),
    "text_datetime": (s.text_of_datetime, False, False),
    "text_time": (s.text_of_time, False, False),
    "value": (s.value_of_text, True, False),
    "lpad": (s.lpad, False, True),
    "rpad": (s.rpad, False, True),
    "casesafeid": (s.casesafeid, False, False),
    "date": (s.make_date, True, False),
    "datevalue_text": (s.date_of_text, True, False),
    "datevalue_datetime": (s.date_of_datetime, False, False),
    "datetimevalue_text": (s.datetime_of_text, True, False),
    "datetimevalue_date": (s.datetime_of_date, False, False),
    "year": (lambda d: Decimal(d.year), False, False),
    "month": (lambda d: Decimal(d.month), False, False),
    "day": (lambda d: Decimal(d.day), False, False),
    "weekday": (s.weekday, False, False),
    "dayofyear": (s.day_of_year, False, False),
    "isoweek": (s.iso_week, False, False),
    "isoyear": (s.iso_year, False, False),
    "addmonths": (s.add_months, True, False),
    "addmonths_datetime": (s.add_months_datetime, True, False),
    "hour": (s.hour, False, False),
    "minute": (s.minute, False, False),
    "second": (s.second, False, False),
    "millisecond": (s.millisecond, False, False),
    "timevalue_text": (s.time_of_text, True, False),
    "timevalue_datetime": (s.time_of_datetime, False, False),
    "formatduration_datetime": (s.format_duration_between, False, False),
    "formatduration_time": (s.format_duration_times, False, False),
    "date_add": (s.add_days, True, False),
    "date_sub": (s.sub_days, True, False),
    "date_diff": (s.days_between, False, False),
    "datetime_add": (s.add_datetime_days, True, False),
    "datetime_sub": (s.sub_datetime_days, True, False),
    "datetime_diff": (s.datetime_days_between, False, False),
    "time_add": (s.add_time, False, False),
    "time_sub": (s.sub_time, False, False),
    "time_diff": (s.time_between, False, False),
}

# op -> runtime function that takes blanks itself; (function, passes position, may be None)
_LENIENT: dict[str, tuple[Callable[..., Any], bool, bool]] = {
    "len": (s.length, False, False),
    "find": (s.find, False, False),
    "begins": (s.begins, False, True),
    "substitute": (s.substitute, False, True),
    "regex": (s.regex, True, False),
    "hyperlink": (s.hyperlink, False, True),
    "isnumber": (s.is_number, False, False),
    "contains": (s.contains, False, True),
    "includes": (s.includes, False, False),
    "formatduration": (s.format_duration, False, True),
    "geolocation": (s.geolocation, True, True),
}

_COMPARISONS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})

# op -> Python operator applied to non-blank operands
_INFIX = {
    "num_add": "+",
    "num_sub": "-",
    "num_mul": "*",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
}


class PythonCompiler:
    """Generates the source of one function ``_formula(v, _ctx)`` from a typed tree."""

    def __init__(self, *, blank_as_zero: bool) -> None:
        self.blank_as_zero = blank_as_zero
        self.namespace: dict[str, Any] = {"_read": read_path, "_ZERO": s.ZERO, "_HUNDRED": s.HUNDRED,
                                          "_dec": _decimal_or_none}
        self.uses_context = False
        self._counter = 0
        self._reads: dict[tuple[str, ...], tuple[str, str]] = {}   # field path -> (local, how it is read)

    def compile(self, node: TypedNode) -> RecordFunction:
        """Return the compiled function for ``node``."""
        body = self.emit(node).text
        # Each field of the record is read once, into a local, however often the formula uses it.
        reads = "".join(f"    {local} = {expression}\n" for local, expression in self._reads.values())
        source = f"def _formula(v, _ctx):\n{reads}    return {body}\n"
        exec(compile(source, "<formula>", "exec"), self.namespace)
        return self.namespace["_formula"]

    # --- naming --------------------------------------------------------------------------------

    def _bind(self, value: Any, prefix: str = "_c") -> str:
        self._counter += 1
        name = f"{prefix}{self._counter}"
        self.namespace[name] = value
        return name

    def _temp(self) -> str:
        self._counter += 1
        return f"_t{self._counter}"

    # --- nodes ---------------------------------------------------------------------------------

    def emit(self, node: TypedNode) -> _Code:
        if isinstance(node, Const):
            return self._const(node)
        if isinstance(node, Field):
            return self._field(node, "v")
        method = getattr(self, "_op_" + node.op, None)
        if method is not None:
            return method(node)
        if node.op in _INFIX:
            return self._infix(node, _INFIX[node.op])
        if node.op in _STRICT:
            function, with_pos, may_be_none = _STRICT[node.op]
            return self._strict_call(node, function, with_pos, may_be_none)
        function, with_pos, may_be_none = _LENIENT[node.op]
        args = [self.emit(arg).text for arg in node.args]
        if with_pos:
            args.append(self._bind(node.pos, "_p"))
        return _Code(f"{self._bind(function, '_f')}({', '.join(args)})", may_be_none)

    def _const(self, node: Const) -> _Code:
        if node.value is None:
            return _Code("None", True)
        if isinstance(node.value, bool):
            return _Code("True" if node.value else "False", False)
        return _Code(self._bind(node.value), False)

    def _field(self, node: Field, source: str) -> _Code:
        if len(node.path) == 1:
            raw = f"{source}.get({self._bind(node.path[0], '_k')})"
        else:
            raw = f"_read({source}, {self._bind(node.path, '_k')})"
        if source == "v":
            if node.path not in self._reads:
                self._reads[node.path] = (f"_r{len(self._reads)}", raw)
            raw = self._reads[node.path][0]
        kind = node.type
        if source != "v" and kind in ("number", "currency", "percent"):
            raw = f"_dec({raw})"   # prior values come as stored: an integer field's are ints
        if kind in ("number", "currency"):
            return _Code(f"({raw} or _ZERO)", False) if self.blank_as_zero else _Code(raw, True)
        if kind == "percent":
            # A stored 25 means 25 %, which is 0.25 in arithmetic.
            if self.blank_as_zero:
                return _Code(f"(({raw} or _ZERO) / _HUNDRED)", False)
            temp = self._temp()
            return _Code(f"(None if ({temp} := {raw}) is None else {temp} / _HUNDRED)", True)
        if kind in ("text", "picklist", "multipicklist"):
            return _Code(f"({raw} or None)", True)
        if kind == "boolean":
            return _Code(f"(True if {raw} else False)", False)
        return _Code(raw, True)

    def _guarded(self, node: Apply, build: Callable[[list[str]], str], may_be_none: bool) -> _Code:
        """Blank in, blank out: evaluate ``build`` only when no argument is blank."""
        codes = [self.emit(arg) for arg in node.args]
        names: list[str] = []
        tests: list[str] = []
        for code in codes:
            if code.nullable:
                temp = self._temp()
                tests.append(f"({temp} := {code.text}) is None")
                names.append(temp)
            else:
                names.append(code.text)
        expression = build(names)
        if not tests:
            return _Code(expression, may_be_none)
        return _Code(f"(None if {' or '.join(tests)} else {expression})", True)

    def emit_test(self, node: TypedNode) -> str:
        """Code for a condition (IF, AND, OR), where blank and FALSE mean the same.

        A comparison can then skip building its blank result: ``t is not None and t > c``.
        """
        if isinstance(node, Apply) and node.op in _COMPARISONS:
            codes = [self.emit(arg) for arg in node.args]
            names, tests = [], []
            for code in codes:
                if code.nullable:
                    temp = self._temp()
                    tests.append(f"({temp} := {code.text}) is not None")
                    names.append(temp)
                else:
                    names.append(code.text)
            return "(" + " and ".join([*tests, f"{names[0]} {_INFIX[node.op]} {names[1]}"]) + ")"
        return self.emit(node).text

    def _infix(self, node: Apply, symbol: str) -> _Code:
        return self._guarded(node, lambda a: f"({a[0]} {symbol} {a[1]})", False)

    def _strict_call(
        self, node: Apply, function: Callable[..., Any], with_pos: bool, may_be_none: bool
    ) -> _Code:
        name = self._bind(function, "_f")
        position = [self._bind(node.pos, "_p")] if with_pos else []
        return self._guarded(node, lambda a: f"{name}({', '.join(a + position)})", may_be_none)

    # --- operations with their own blank rules -------------------------------------------------

    def _op_neg(self, node: Apply) -> _Code:
        return self._guarded(node, lambda a: f"(-{a[0]})", False)

    def _op_not(self, node: Apply) -> _Code:
        return self._guarded(node, lambda a: f"(not {a[0]})", False)

    def _op_identity(self, node: Apply) -> _Code:
        return self.emit(node.args[0])

    def _op_concat(self, node: Apply) -> _Code:
        left, right = (self.emit(arg).text for arg in node.args)
        return _Code(f"(({left} or '') + ({right} or '') or None)", True)

    def _op_text_eq(self, node: Apply) -> _Code:
        left, right = (self.emit(arg).text for arg in node.args)
        return _Code(f"(({left} or '') == ({right} or ''))", False)

    def _op_lower(self, node: Apply) -> _Code:
        return self._cased(node, s.lower)

    def _op_upper(self, node: Apply) -> _Code:
        return self._cased(node, s.upper)

    def _cased(self, node: Apply, function: Callable[..., str]) -> _Code:
        """Blank text gives blank; a blank locale is the default locale, not a blank result."""
        text = self.emit(node.args[0])
        locale = self.emit(node.args[1]).text if len(node.args) > 1 else "None"
        temp = self._temp()
        call = f"{self._bind(function, '_f')}({temp}, {locale})"
        return _Code(f"(None if ({temp} := {text.text}) is None else {call})", True)

    def _text_order(self, node: Apply, symbol: str) -> _Code:
        """Ordering text against a blank text field is FALSE, not blank, in Salesforce."""
        left, right = (self.emit(arg).text for arg in node.args)
        a, b = self._temp(), self._temp()
        return _Code(
            f"(False if ({a} := {left}) is None or ({b} := {right}) is None else {a} {symbol} {b})", False
        )

    def _op_text_lt(self, node: Apply) -> _Code:
        return self._text_order(node, "<")

    def _op_text_le(self, node: Apply) -> _Code:
        return self._text_order(node, "<=")

    def _op_text_gt(self, node: Apply) -> _Code:
        return self._text_order(node, ">")

    def _op_text_ge(self, node: Apply) -> _Code:
        return self._text_order(node, ">=")

    def _op_text_ne(self, node: Apply) -> _Code:
        left, right = (self.emit(arg).text for arg in node.args)
        return _Code(f"(({left} or '') != ({right} or ''))", False)

    def _op_and(self, node: Apply) -> _Code:
        parts = " and ".join(self.emit_test(arg) for arg in node.args)
        return _Code(f"(True if {parts} else False)", False)  # a blank test counts as FALSE

    def _op_or(self, node: Apply) -> _Code:
        parts = " or ".join(self.emit_test(arg) for arg in node.args)
        return _Code(f"(True if {parts} else False)", False)

    def _op_if(self, node: Apply) -> _Code:
        test = self.emit_test(node.args[0])
        yes, no = (self.emit(arg) for arg in node.args[1:])
        return _Code(f"({yes.text} if {test} else {no.text})", yes.nullable or no.nullable)

    def _op_case(self, node: Apply) -> _Code:
        subject = self.emit(node.args[0])
        temp = self._temp()
        otherwise = self.emit(node.args[-1])
        nullable = otherwise.nullable
        chain = otherwise.text
        pairs = list(zip(node.args[1:-1:2], node.args[2:-1:2], strict=True))
        for value, result in reversed(pairs):
            value_code, result_code = self.emit(value), self.emit(result)
            nullable = nullable or result_code.nullable
            chain = f"{result_code.text} if {temp} == {value_code.text} else {chain}"
        # CASE never matches a blank subject, not even against NULL.
        return _Code(f"({otherwise.text} if ({temp} := {subject.text}) is None else {chain})", nullable)

    def _op_isblank(self, node: Apply) -> _Code:
        return _Code(f"({self.emit(node.args[0]).text} is None)", False)

    def _op_isnull(self, node: Apply) -> _Code:
        return self._op_isblank(node)

    def _op_blankvalue(self, node: Apply) -> _Code:
        value, substitute = (self.emit(arg) for arg in node.args)
        if not value.nullable:
            return value
        temp = self._temp()
        return _Code(
            f"({substitute.text} if ({temp} := {value.text}) is None else {temp})", substitute.nullable
        )

    def _op_nullvalue(self, node: Apply) -> _Code:
        return self._op_blankvalue(node)

    def _op_ispickval(self, node: Apply) -> _Code:
        value, wanted = (self.emit(arg).text for arg in node.args)
        return _Code(f"(({value} or '') == ({wanted} or ''))", False)

    def _op_br(self, node: Apply) -> _Code:
        return _Code(self._bind("<br>"), False)

    def _op_today(self, node: Apply) -> _Code:
        self.uses_context = True
        return _Code(f"{self._bind(s.today, '_f')}(_ctx.now)", False)

    def _op_now(self, node: Apply) -> _Code:
        self.uses_context = True
        return _Code("_ctx.now", False)

    def _op_isnew(self, node: Apply) -> _Code:
        self.uses_context = True
        return _Code("_ctx.is_new", False)

    def _op_ischanged(self, node: Apply) -> _Code:
        self.uses_context = True
        field = node.args[0]
        return _Code(f"({self._field(field, 'v').text} != {self._field(field, '_ctx.prior').text})", False)

    def _op_priorvalue(self, node: Apply) -> _Code:
        self.uses_context = True
        return self._field(node.args[0], "_ctx.prior")


def _decimal_or_none(value: Any) -> Any:
    """A number as the formula contract has it (Decimal); blank and Decimals pass as they are."""
    return Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value
