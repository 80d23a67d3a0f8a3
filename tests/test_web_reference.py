"""The operator reference on the web page (issue 16): every function the engine knows has a row with
its meaning and an example, and every example is an expression the engine accepts."""

from __future__ import annotations

import pytest

from numerics import md

from matdiff.engine.lowering import FUNCTION_NAMES
from matdiff.web.reference import reference

ROWS = reference(FUNCTION_NAMES)


def test_every_function_of_the_engine_has_a_meaning_and_an_example():
    assert [row["syntax"].split("(")[0] for row in ROWS["functions"]] == sorted(FUNCTION_NAMES)
    assert all(row["meaning"] and row["example"] for row in ROWS["functions"] + ROWS["operators"])


@pytest.mark.parametrize("row", ROWS["functions"] + ROWS["operators"], ids=lambda row: row["syntax"])
def test_each_example_is_an_expression_the_engine_accepts(row):
    md.infer_shapes(row["example"], {})


def test_a_function_without_a_row_is_listed_by_name():
    assert reference(["exp", "newfunction"])["functions"][-1] == {"syntax": "newfunction(…)", "meaning": "",
                                                                  "example": ""}
