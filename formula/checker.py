"""Type checking: turns the syntax tree into a typed tree against a field schema.

Every error names what was expected and where (line, column); operators and overloaded functions are
resolved here to one operation name each, so back ends never dispatch on types.
"""

from __future__ import annotations

import difflib

from formula.ast import Apply, Call, Const, Field, Literal, Name, SyntaxNode, TypedNode
from formula.errors import FormulaError
from formula.functions import FUNCTIONS, FunctionInfo, Overload
from formula.types import DISPLAY, NUMERIC, Schema, family, unify

_PICKLIST_OK = {("ISPICKVAL", 0), ("TEXT", 0), ("CASE", 0), ("ISBLANK", 0), ("ISNULL", 0)}
_MULTIPICKLIST_OK = {("INCLUDES", 0), ("ISBLANK", 0), ("ISNULL", 0)}
_ORDERED = frozenset({"number", "text", "date", "datetime", "time"})
_COMPARISONS = {"=": "eq", "==": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
#: Date functions that also accept a date/time read its GMT date first.
_DATE_OF_DATETIME = frozenset({"dayofyear", "isoweek", "isoyear"})


def _display(type_name: str) -> str:
    return DISPLAY.get(type_name, type_name)


class Checker:
    """Types one formula against one schema; ``check`` returns the typed tree or raises."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def check(self, node: SyntaxNode) -> TypedNode:
        typed = self._node(node)
        self._forbid_picklist(typed, "the formula's result", None)
        return typed

    # --- leaves ----------------------------------------------------------------------------

    def _node(self, node: SyntaxNode) -> TypedNode:
        if isinstance(node, Literal):
            return self._literal(node)
        if isinstance(node, Name):
            return self._field(node)
        if node.is_operator:
            return self._operator(node)
        return self._function(node)

    def _literal(self, node: Literal) -> Const:
        value = node.value
        if node.kind == "text" and value == "":
            value = None  # empty text is blank, and the runtime spells blank as None
        return Const(value, node.kind, node.pos)

    def _field(self, node: Name) -> Field:
        parts = node.text.split(".")
        schema: Schema | str = self.schema
        spelled: list[str] = []
        for index, part in enumerate(parts):
            if not isinstance(schema, Schema):
                raise self._unknown_field(node, ".".join(spelled))
            found = schema.find(part)
            if found is None:
                raise self._unknown_field(node, ".".join(spelled))
            spelled.append(found[0])
            schema = found[1]
            if index == len(parts) - 1 and isinstance(schema, Schema):
                example = next(iter(schema.fields), "name")
                raise FormulaError.at(
                    node.pos,
                    f"Field {node.text} is a lookup; name one of its fields, such as {'.'.join(spelled)}.{example}.",
                    "unknown_field",
                )
        return Field(tuple(spelled), str(schema), node.pos)

    def _unknown_field(self, node: Name, known_prefix: str) -> FormulaError:
        candidates = self.schema.names()
        close = difflib.get_close_matches(node.text, candidates, n=3, cutoff=0.6)
        if not close:
            lowered = {name.lower(): name for name in candidates}
            close = [
                lowered[m]
                for m in difflib.get_close_matches(node.text.lower(), list(lowered), n=3, cutoff=0.6)
            ]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        return FormulaError.at(
            node.pos, f"Field {node.text} does not exist. Check spelling.{hint}", "unknown_field"
        )

    # --- operators ---------------------------------------------------------------------------

    def _operator(self, node: Call) -> TypedNode:
        args = tuple(self._node(arg) for arg in node.args)
        for arg in args:
            self._forbid_picklist(arg, f"operator '{_symbol(node.name)}'", node)
        name = node.name
        if name in ("+", "-"):
            return self._additive(node, args)
        if name == "&":
            self._expect(node, args, 0, {"text"})
            self._expect(node, args, 1, {"text"})
            return Apply("concat", _with_peer_nulls(args, "text"), "text", node.pos)
        if name in ("*", "/", "^"):
            self._expect(node, args, 0, NUMERIC)
            self._expect(node, args, 1, NUMERIC)
            op = {"*": "num_mul", "/": "num_div", "^": "num_pow"}[name]
            return Apply(op, _with_peer_nulls(args), "number", node.pos)
        if name in _COMPARISONS:
            return self._comparison(node, args)
        if name in ("&&", "||"):
            self._expect(node, args, 0, {"boolean"})
            self._expect(node, args, 1, {"boolean"})
            return Apply(
                "and" if name == "&&" else "or", _with_peer_nulls(args, "boolean"), "boolean", node.pos
            )
        if name == "not":
            self._expect(node, args, 0, {"boolean"})
            return Apply("not", _with_peer_nulls(args, "boolean"), "boolean", node.pos)
        self._expect(node, args, 0, NUMERIC)
        if name == "pos":
            return args[0]
        args = _with_peer_nulls(args)
        return Apply("neg", args, args[0].type, node.pos)

    def _additive(self, node: Call, args: tuple[TypedNode, ...]) -> Apply:
        left, right = (family(arg.type) for arg in args)
        plus = node.name == "+"
        table = _PLUS if plus else _MINUS
        resolved = table.get((left, right))
        if resolved is None and "null" in (left, right):
            other = right if left == "null" else left
            resolved = table.get((other, "number")) if left != "null" else table.get(("number", other))
            resolved = resolved or table.get((other, other))
        if resolved is None:
            expected = _expected_for(table, left) or "Number"
            bad = 1 if left in {k[0] for k in table} else 0
            raise self._mismatch(node, args[bad], expected)
        op, result, swap = resolved
        ordered = (args[1], args[0]) if swap else args
        kinds = next(k for k, v in table.items() if v == resolved)
        kinds = (kinds[1], kinds[0]) if swap else kinds
        ordered = tuple(_typed_null(arg, kind) for arg, kind in zip(ordered, kinds, strict=True))
        return Apply(op, ordered, result, node.pos)

    def _comparison(self, node: Call, args: tuple[TypedNode, ...]) -> Apply:
        left, right = (family(arg.type) for arg in args)
        op = _COMPARISONS[node.name]
        ordered = op not in ("eq", "ne")
        allowed = _ORDERED if ordered else _ORDERED | {"boolean"}
        if left != "null" and left not in allowed:
            raise self._mismatch(node, args[0], " or ".join(_display(t) for t in sorted(allowed)))
        if right != "null" and right not in allowed:
            raise self._mismatch(node, args[1], " or ".join(_display(t) for t in sorted(allowed)))
        if unify(left, right) is None:
            raise self._mismatch(node, args[1], _display(left))
        if not ordered and ("text" in (left, right) or (left, right) == ("null", "null")):
            op = "text_" + op  # text compares blank as "", so null = "" is TRUE
        elif (left, right) == ("text", "text"):
            op = "text_" + op  # blank text fields order as "", but a NULL literal gives NULL
        return Apply(op, _with_peer_nulls(args, "text"), "boolean", node.pos)

    # --- functions ---------------------------------------------------------------------------

    def _function(self, node: Call) -> TypedNode:
        info = FUNCTIONS.get(node.name)
        if info is None:
            close = difflib.get_close_matches(node.name, list(FUNCTIONS), n=2, cutoff=0.7)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise FormulaError.at(
                node.pos, f"Unknown function {node.name}. Check spelling.{hint}", "unknown_function"
            )
        self._check_arity(node, info)
        if node.name in ("ISCHANGED", "PRIORVALUE"):
            return self._record_function(node)
        args = tuple(self._node(arg) for arg in node.args)
        for index, arg in enumerate(args):
            self._forbid_picklist(arg, f"function {node.name}()", node, index)
        if info.special:
            return getattr(self, "_special_" + node.name.lower())(node, args)
        return self._overloaded(node, info, args)

    def _check_arity(self, node: Call, info: FunctionInfo) -> None:
        count, low, high = len(node.args), info.min_args, info.max_args
        too_few = count < low
        too_many = high is not None and count > high
        if node.name == "CASE" and not too_few and count % 2:
            too_few = True  # CASE needs an else value after its value/result pairs
        if not (too_few or too_many):
            return
        if high is None:
            expected = f"at least {low}" if node.name != "CASE" else "an even number, at least 4"
        else:
            expected = str(low) if low == high else f"{low} to {high}"
        raise FormulaError.at(
            node.pos,
            f"Incorrect number of parameters for function '{node.name}()'. Expected {expected}, received {count}.",
            "wrong_arg_count",
        )

    def _overloaded(self, node: Call, info: FunctionInfo, args: tuple[TypedNode, ...]) -> TypedNode:
        candidates = [o for o in info.overloads if _arity_fits(o, len(args))]
        for overload in candidates:
            if all(_accepts(_param(overload, i), arg) for i, arg in enumerate(args)):
                return self._resolve(node, overload, args)
        index = _first_bad_argument(candidates, args)
        kinds = {_param(o, index) for o in candidates if index < len(o.params) or o.repeat}
        expected = " or ".join(sorted(_display_kind(kind) for kind in kinds))
        raise self._mismatch(node, args[index], expected)

    def _resolve(self, node: Call, overload: Overload, args: tuple[TypedNode, ...]) -> TypedNode:
        if overload.op in ("identity", "as_text"):
            arg = args[0]
            result = overload.result
            if isinstance(arg, Const):
                return Const(arg.value, result, arg.pos)
            return Apply("identity", (arg,), result, node.pos) if arg.type != result else arg
        if overload.op == "isnull" and args[0].type == "text":
            return Const(False, "boolean", node.pos)  # text is never null in Salesforce; blank is ""
        if overload.op in _DATE_OF_DATETIME and args[0].type == "datetime":
            args = (Apply("datevalue_datetime", (args[0],), "date", args[0].pos),)
        if overload.op == "distance" and str(args[2].value).lower() not in ("mi", "km"):
            raise FormulaError.at(args[2].pos, "DISTANCE unit must be 'mi' or 'km'.", "invalid_argument")
        args = tuple(_typed_null(arg, _param(overload, i)) for i, arg in enumerate(args))
        return Apply(overload.op, args, overload.result, node.pos)

    def _special_if(self, node: Call, args: tuple[TypedNode, ...]) -> TypedNode:
        self._expect(node, args, 0, {"boolean"})
        result = unify(args[1].type, args[2].type)
        if result is None:
            raise self._mismatch(node, args[2], _display(args[1].type))
        args = (_typed_null(args[0], "boolean"), _typed_null(args[1], result), _typed_null(args[2], result))
        return Apply("if", args, result, node.pos)

    def _special_case(self, node: Call, args: tuple[TypedNode, ...]) -> TypedNode:
        subject = args[0]
        if subject.type == "boolean":
            raise self._mismatch(node, subject, "Number, Text, Date, DateTime or Picklist")
        subject_type = "text" if subject.type == "picklist" else subject.type
        result = "null"
        for value in args[1:-1:2]:
            if unify(family(subject_type), family(value.type)) is None:
                raise self._mismatch(node, value, _display(subject_type))
        for branch in [*args[2:-1:2], args[-1]]:
            merged = unify(result, branch.type)
            if merged is None:
                raise self._mismatch(node, branch, _display(result))
            result = merged
        key_type = _peer_type(args[1:-1:2]) if subject_type == "null" else subject_type
        key_type = key_type if key_type != "null" else "text"
        is_key = [i == 0 or (i % 2 == 1 and i < len(args) - 1) for i in range(len(args))]
        typed = [_typed_null(arg, key_type if key else result) for arg, key in zip(args, is_key, strict=True)]
        return Apply("case", tuple(typed), result, node.pos)

    def _special_blankvalue(self, node: Call, args: tuple[TypedNode, ...]) -> TypedNode:
        result = unify(args[0].type, args[1].type)
        if result is None:
            raise self._mismatch(node, args[1], _display(args[0].type))
        return Apply("blankvalue", tuple(_typed_null(arg, result) for arg in args), result, node.pos)

    def _special_nullvalue(self, node: Call, args: tuple[TypedNode, ...]) -> TypedNode:
        result = unify(args[0].type, args[1].type)
        if result is None:
            raise self._mismatch(node, args[1], _display(args[0].type))
        if result == "text":
            return args[0]  # text is never null in Salesforce, so NULLVALUE never substitutes
        return Apply("nullvalue", tuple(_typed_null(arg, result) for arg in args), result, node.pos)

    def _record_function(self, node: Call) -> TypedNode:
        target = node.args[0]
        if not isinstance(target, Name):
            raise FormulaError.at(
                node.pos, f"{node.name}() takes a field, such as {node.name}(amount).", "type_mismatch"
            )
        field = self._field(target)
        if node.name == "ISCHANGED":
            return Apply("ischanged", (field,), "boolean", node.pos)
        return Apply("priorvalue", (field,), field.type, node.pos)

    # --- shared checks -------------------------------------------------------------------------

    def _expect(self, node: Call, args: tuple[TypedNode, ...], index: int, allowed) -> None:
        arg = args[index]
        if arg.type == "null" or arg.type in allowed:
            return
        raise self._mismatch(node, arg, " or ".join(sorted(_display(t) for t in allowed)))

    def _mismatch(self, node: Call, arg: TypedNode, expected: str) -> FormulaError:
        where = f"operator '{_symbol(node.name)}'" if node.is_operator else f"function '{node.name}()'"
        return FormulaError.at(
            arg.pos,
            f"Incorrect parameter type for {where}. Expected {expected}, received {_display(arg.type)}.",
            "type_mismatch",
        )

    def _forbid_picklist(self, arg: TypedNode, where: str, node: Call | None, index: int = -1) -> None:
        if arg.type not in ("picklist", "multipicklist"):
            return
        name = node.name if node is not None and not node.is_operator else ""
        if arg.type == "picklist" and (name, index) in _PICKLIST_OK:
            return
        if arg.type == "multipicklist" and (name, index) in _MULTIPICKLIST_OK:
            return
        if arg.type == "picklist":
            allowed = "ISPICKVAL, TEXT and CASE (and ISBLANK)"
        else:
            allowed = "INCLUDES (and ISBLANK)"
        label = arg.dotted if isinstance(arg, Field) else "This value"
        raise FormulaError.at(
            arg.pos,
            f"{label} is a {_display(arg.type)} field, which can only be used in {allowed}, not in {where}.",
            "type_mismatch",
        )


# (left family, right family) -> (operation, result type, swap operands)
_PLUS = {
    ("number", "number"): ("num_add", "number", False),
    ("text", "text"): ("concat", "text", False),
    ("date", "number"): ("date_add", "date", False),
    ("number", "date"): ("date_add", "date", True),
    ("datetime", "number"): ("datetime_add", "datetime", False),
    ("number", "datetime"): ("datetime_add", "datetime", True),
    ("time", "number"): ("time_add", "time", False),
    ("number", "time"): ("time_add", "time", True),
}
_MINUS = {
    ("number", "number"): ("num_sub", "number", False),
    ("date", "number"): ("date_sub", "date", False),
    ("date", "date"): ("date_diff", "number", False),
    ("datetime", "number"): ("datetime_sub", "datetime", False),
    ("datetime", "datetime"): ("datetime_diff", "number", False),
    ("time", "number"): ("time_sub", "time", False),
    ("time", "time"): ("time_diff", "number", False),
}


def _typed_null(arg: TypedNode, type_name: str) -> TypedNode:
    """Give a NULL literal the type its place expects, so SQL can cast it (CAST(NULL AS DATE))."""
    if isinstance(arg, Const) and arg.type == "null" and type_name not in ("null", "any", "literal_text"):
        return Const(None, type_name, arg.pos)
    return arg


def _peer_type(args: tuple[TypedNode, ...]) -> str:
    return next((arg.type for arg in args if arg.type != "null"), "null")


def _with_peer_nulls(args: tuple[TypedNode, ...], fallback: str = "number") -> tuple[TypedNode, ...]:
    peer = _peer_type(args)
    return tuple(_typed_null(arg, peer if peer != "null" else fallback) for arg in args)


def _expected_for(table, left: str) -> str:
    rights = sorted({_display(r) for (lt, r) in table if lt == left})
    return " or ".join(rights)


def _symbol(name: str) -> str:
    return {"neg": "-", "pos": "+", "not": "!"}.get(name, name)


def _arity_fits(overload: Overload, count: int) -> bool:
    if overload.repeat:
        return count >= len(overload.params)
    return count == len(overload.params)


def _param(overload: Overload, index: int) -> str:
    if index >= len(overload.params):
        return overload.params[-1]
    return overload.params[index]


def _accepts(kind: str, arg: TypedNode) -> bool:
    if kind == "any":
        return True
    if kind == "literal_text":
        return isinstance(arg, Const) and arg.type == "text" and arg.value is not None
    if arg.type == "null":
        return True
    if kind == "number":
        return arg.type in NUMERIC
    return arg.type == kind


def _first_bad_argument(candidates: list[Overload], args: tuple[TypedNode, ...]) -> int:
    """The argument to blame: the furthest any overload got before rejecting one."""
    furthest = 0
    for overload in candidates:
        index = next((i for i, arg in enumerate(args) if not _accepts(_param(overload, i), arg)), 0)
        furthest = max(furthest, index)
    return furthest


def _display_kind(kind: str) -> str:
    if kind == "literal_text":
        return "a text value in quotes"
    if kind == "any":
        return "any value"
    return _display(kind)


def check(tree: SyntaxNode, schema: Schema) -> TypedNode:
    """Return the typed tree of ``tree``; raise FormulaError naming the first problem."""
    return Checker(schema).check(tree)
