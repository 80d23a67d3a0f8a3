"""Issue 25, item 3 in the browser: one naming everywhere. The answer, the backward pass and
Step by step call the delta of a3's argument z3 by one name, dz3 (= ∂L/∂z3), and nothing on the
page tells the user to run a command line."""

import re
from urllib.parse import quote

import pytest

from browser_fixtures import expect, needs_chromium, open_section

pytestmark = [pytest.mark.browser, needs_chromium]

PROGRAM = "a2 = sigmoid(W2*x)\na3 = sigmoid(W3*a2)\nL = 0.5*sum((a3 - y).^2)"


@pytest.mark.parametrize("layout", ["gradient", "numerator"])
def test_the_deltas_have_one_name_in_the_answer_and_in_step_by_step(server, page, layout):
    link = f"/?expr={quote(PROGRAM)}&wrt=W2&layout={layout}&shapes=W2:3x2;W3:2x3;x:2;y:2"
    open_section(server, page, link, "explain", "explain")
    answer = page.locator("#text").inner_text()
    assert "dz3 = (a3 - y).*a3.*(1 - a3)" in answer and "dz2 = (W3'*dz3).*a2.*(1 - a2)" in answer, answer
    steps = page.locator("#explain-card")
    expect(steps).to_contain_text("dz3 = ∂L/∂z3")
    expect(steps).to_contain_text("dz2 = ∂L/∂z2")
    expect(steps).to_contain_text("z3 = W3*a2")   # what z3 is, where it is introduced
    shown = page.locator("main").inner_text()
    assert not re.search(r"\bd[23]\b", shown), "a delta under a second name"
    assert "matdiff " not in shown, "a note that sends the user to the command line"
