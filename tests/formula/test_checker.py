"""Type checking against a field schema: located errors, suggestions, picklist rules, result types."""

from __future__ import annotations

import pytest

import formula
from formula import FormulaError

FIELDS = {
    "amount": "currency",
    "discount": "percent",
    "name": "text",
    "stage": "picklist",
    "hobbies": "multipicklist",
    "closed": "boolean",
    "close_date": "date",
    "created": "datetime",
    "account": {"name": "text", "owner": {"name": "text", "email": "text"}},
}


def error_of(source: str, **options) -> FormulaError:
    with pytest.raises(FormulaError) as raised:
        formula.compile(source, FIELDS, **options)
    return raised.value


def test_unknown_field_names_the_field_and_suggests_near_names():
    error = error_of("amout + 1")
    assert error.kind == "unknown_field"
    assert "amout" in error.message and "amount" in error.message
    assert (error.line, error.column) == (1, 1)


def test_unknown_lookup_field_suggests_the_full_path():
    error = error_of("account.owner.nmae")
    assert "account.owner.name" in error.message


def test_lookup_without_a_field_is_refused():
    assert "lookup" in error_of("account.owner").message


def test_unknown_function_is_refused_with_a_suggestion():
    error = error_of("ROUD(amount, 2)")
    assert error.kind == "unknown_function" and "ROUND" in error.message


def test_wrong_argument_count_says_expected_and_received():
    error = error_of("IF(closed, 1)")
    assert error.kind == "wrong_arg_count"
    assert "Expected 3, received 2" in error.message


def test_case_without_else_value_is_a_wrong_argument_count():
    assert error_of("CASE(name, 'a', 1)").kind == "wrong_arg_count"


def test_type_mismatch_says_what_was_expected_and_points_at_the_argument():
    error = error_of("amount + name")
    assert error.kind == "type_mismatch"
    assert "Expected " in error.message and "Number" in error.message and "received Text" in error.message
    assert error.column == 10


def test_function_argument_mismatch_names_the_function():
    error = error_of("LEN(amount)")
    assert "function 'LEN()'" in error.message and "Expected Text" in error.message


@pytest.mark.parametrize("source", ["stage = 'Won'", "stage", "LEN(stage)", "stage & 'x'"])
def test_picklist_outside_ispickval_text_or_case_is_refused(source):
    error = error_of(source)
    assert error.kind == "type_mismatch" and "ISPICKVAL" in error.message


@pytest.mark.parametrize(
    "source", ["ISPICKVAL(stage, 'Won')", "TEXT(stage) = 'Won'", "CASE(stage, 'Won', 1, 0) = 1"]
)
def test_picklist_inside_ispickval_text_or_case_is_accepted(source):
    assert formula.compile(source, FIELDS).type == "boolean"


def test_multipicklist_is_only_usable_in_includes():
    assert error_of("TEXT(hobbies)").kind == "type_mismatch"
    assert formula.compile("INCLUDES(hobbies, 'Golf')", FIELDS).type == "boolean"


def test_date_minus_number_is_a_date_and_number_minus_date_is_refused():
    assert formula.compile("close_date - 1", FIELDS).type == "date"
    assert error_of("1 - close_date").kind == "type_mismatch"


def test_if_branches_must_share_a_type():
    assert error_of("IF(closed, 1, 'one')").kind == "type_mismatch"


def test_every_node_of_the_typed_tree_has_a_type():
    from formula.ast import walk

    compiled = formula.compile("IF(closed, amount * discount, LEN(account.name))", FIELDS)
    assert all(node.type for node in walk(compiled.tree))


def test_paths_list_every_field_read_including_lookups():
    compiled = formula.compile("amount + LEN(account.owner.name) + LEN(Account.Name)", FIELDS)
    assert compiled.paths == {"amount", "account.owner.name", "account.name"}


def test_declared_result_type_must_match_the_formula():
    error = error_of("name", returns="number")
    assert error.kind == "type_mismatch" and "incompatible" in error.message


def test_declared_percent_result_is_kept_as_the_type():
    assert formula.compile("amount / 100", FIELDS, returns="percent").type == "percent"


def test_unsupported_field_type_in_schema_is_reported():
    with pytest.raises(FormulaError, match="cannot read"):
        formula.compile("x", {"x": "blob"})


def test_functions_catalogue_describes_every_function():
    assert {"IF", "CASE", "ROUND", "TEXT", "ADDMONTHS", "REGEX", "PRIORVALUE"} <= set(formula.FUNCTIONS)
    for info in formula.FUNCTIONS.values():
        assert info.description and info.signature.startswith(info.name)


def test_formula_types_lists_the_schema_types():
    assert set(formula.FORMULA_TYPES) == {
        "text",
        "number",
        "currency",
        "percent",
        "boolean",
        "date",
        "datetime",
        "picklist",
        "multipicklist",
    }
