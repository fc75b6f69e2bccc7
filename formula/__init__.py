"""Formwork's formula language: Salesforce-compatible formulas compiled for Python and for SQL.

``compile`` checks a formula against a field schema once; the result evaluates records in memory or
becomes a SQLAlchemy expression for queries.
"""

from __future__ import annotations

from formula.compiled import CompiledFormula, compile
from formula.errors import FormulaError
from formula.functions import FUNCTIONS, FunctionInfo
from formula.types import FORMULA_TYPES

__all__ = ["FORMULA_TYPES", "FUNCTIONS", "CompiledFormula", "FormulaError", "FunctionInfo", "compile"]
