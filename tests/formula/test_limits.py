"""Length and nesting limits are checked before any other work, with a message that gives the limit."""

from __future__ import annotations

import pytest

import formula
from formula import FormulaError
from formula.limits import MAX_NESTING_DEPTH


def test_formula_longer_than_3900_characters_is_refused_with_its_length():
    with pytest.raises(FormulaError) as raised:
        formula.compile("1" * 5000, {})
    assert raised.value.message == "The formula is 5,000 characters long; the limit is 3,900."


def test_length_error_does_not_repeat_the_megabyte_it_refuses():
    with pytest.raises(FormulaError) as raised:
        formula.compile("a" * 1_000_000, {})
    assert len(str(raised.value)) < 200


def test_brackets_nested_too_deeply_are_refused_before_parsing():
    source = "(" * (MAX_NESTING_DEPTH + 1) + "1" + ")" * (MAX_NESTING_DEPTH + 1)
    with pytest.raises(FormulaError, match=f"nested more than {MAX_NESTING_DEPTH} levels deep"):
        formula.compile(source, {})


def test_unclosed_brackets_nested_too_deeply_report_the_depth_not_a_syntax_error():
    with pytest.raises(FormulaError, match="levels deep"):
        formula.compile("IF(" * 200, {})


def test_brackets_inside_text_and_comments_do_not_count_as_nesting():
    source = "'" + "(" * 100 + "' & /* " + "(" * 100 + " */ 'x'"
    assert formula.compile(source, {}).evaluate({}) == "(" * 100 + "x"


def test_operator_chain_deeper_than_the_limit_is_refused():
    source = " + ".join(["1"] * (MAX_NESTING_DEPTH + 2))
    with pytest.raises(FormulaError, match="levels deep"):
        formula.compile(source, {})


def test_formula_at_the_nesting_limit_compiles_and_evaluates():
    depth = MAX_NESTING_DEPTH - 1
    source = "IF(b, 1, " * depth + "2" + ")" * depth
    assert formula.compile(source, {"b": "boolean"}).evaluate({"b": False}) == 2
