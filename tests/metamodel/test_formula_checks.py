"""Formulas in metadata are type-checked through `formula.compile`; computed fields have no cycles."""
from __future__ import annotations

import pytest

import metamodel
from formula import FormulaError
from metamodel.formula_checks import formula_fields


def issue_texts(documents) -> list[str]:
    return [str(i) for i in metamodel.validate_documents(documents).issues]


def opportunity_fields(documents) -> list[dict]:
    return documents["entities/opportunity.json"]["fields"]


def test_formula_naming_a_missing_field_is_reported_at_its_expression(documents):
    opportunity_fields(documents)[5]["expression"] = "amont * 0.5"
    texts = issue_texts(documents)
    assert len(texts) == 1 and texts[0].startswith("entities/opportunity.json /fields/5/expression: ")
    assert "line 1, column 1" in texts[0]


@pytest.mark.parametrize("expression, complaint", [
    ("IF(ISCHANGED(amount), 1, 0)", "ISCHANGED() needs the record being saved"),
    ("IF(REGEX(name, name), 1, 0)", "REGEX needs its pattern written in the formula"),
])
def test_formula_field_that_cannot_be_computed_in_a_list_is_reported_at_validation(documents, expression,
                                                                                    complaint):
    opportunity_fields(documents)[5]["expression"] = expression
    texts = issue_texts(documents)
    assert len(texts) == 1 and texts[0].startswith("entities/opportunity.json /fields/5/expression: "), texts
    assert complaint in texts[0]


def test_validation_rule_condition_must_give_a_boolean(documents):
    documents["entities/opportunity.json"]["validation_rules"][0]["condition"] = "amount + 1"
    texts = issue_texts(documents)
    assert len(texts) == 1 and "/validation_rules/0/condition" in texts[0], texts


def test_cycle_among_formula_fields_is_named(documents):
    opportunity_fields(documents).extend([
        {"name": "first", "type": "formula", "label": "A", "expression": "second + 1", "returns": "number"},
        {"name": "second", "type": "formula", "label": "B", "expression": "first + 1", "returns": "number"},
    ])
    cycles = [t for t in issue_texts(documents) if "formula cycle" in t]
    assert cycles == ["entities/opportunity.json /fields/6/expression: formula cycle: opportunity.first "
                      "-> opportunity.second -> opportunity.first; a computed field cannot depend on itself"]


def test_rollup_filter_is_checked_against_the_child_entity(documents):
    account = documents["entities/account.json"]
    account["fields"][2]["filter"] = "ISPICKVAL(stag, \"lost\")"
    texts = issue_texts(documents)
    assert len(texts) == 1 and texts[0].startswith("entities/account.json /fields/2/filter:"), texts


def test_formula_fields_open_lookups_along_the_paths_a_formula_reads(small_app_path):
    app = metamodel.load_app(small_app_path)
    fields = metamodel.formula_fields(app, "opportunity", "account.name & stage")
    assert fields["amount"] == "currency" and fields["stage"] == "picklist"
    assert fields["account"]["name"] == "text"
    assert fields["weighted"] == "currency"
    assert fields["owner"]["name"] == "text"


def test_formula_fields_leave_out_what_formulas_cannot_read(small_app_path):
    app = metamodel.load_app(small_app_path)
    fields = metamodel.formula_fields(app, "account")
    assert fields["open_amount"] == "currency" and "website" in fields


def test_formula_over_the_length_limit_is_reported_before_its_text_is_scanned(documents):
    opportunity_fields(documents)[5]["expression"] = "amount" + ".a" * 500_000
    texts = issue_texts(documents)
    assert any("/fields/5/expression" in t and "the limit is 3,900" in t for t in texts), texts


def test_formula_fields_refuses_a_formula_over_the_length_limit():
    with pytest.raises(FormulaError, match="the limit is 3,900"):
        formula_fields(None, "account", "a" * 1_000_000)  # type: ignore[arg-type]
