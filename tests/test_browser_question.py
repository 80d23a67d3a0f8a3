"""Issue 25, items 1 and 2 in the browser: an answer on screen always belongs to the inputs on
screen, a new expression with one input ticks it, and the answer is shown as an equation under the
question itself, rendered as math."""

import re

import pytest

from browser_fixtures import PERMALINK, expect, needs_chromium, wait_for_result

pytestmark = [pytest.mark.browser, needs_chromium]

EDITED = "inputs you had before"


def test_an_edit_marks_the_answer_stale_at_once_and_undoing_it_unmarks_it(server, page):
    base, _ = server
    page.goto(base + PERMALINK)
    wait_for_result(page)
    expect(page.locator("#stale")).to_be_hidden()

    page.fill("#expression", "2*W2*W1*h")   # not differentiated: the old answer is no longer this one's
    expect(page.locator("#stale")).to_be_visible()
    expect(page.locator("#stale")).to_contain_text(EDITED)
    expect(page.locator("#result")).to_have_class(re.compile("stale"))

    page.fill("#expression", "W2*W1*h")   # back to what the answer is for (the link's shapes kept)
    expect(page.locator("#stale")).to_be_hidden()

    page.select_option("#layout", "denominator")   # a layout, a shape, a tick: each one counts
    expect(page.locator("#stale")).to_contain_text(EDITED)
    page.select_option("#layout", "numerator")
    expect(page.locator("#stale")).to_be_hidden()
    page.fill("#variables input[data-name='h']", "3")
    expect(page.locator("#stale")).to_be_visible()
    page.fill("#variables input[data-name='h']", "2")
    expect(page.locator("#stale")).to_be_hidden()
    page.locator("#variables input.wrt[data-wrt='W2']").check()
    expect(page.locator("#stale")).to_be_visible()

    page.click("#go")   # differentiated: the answer is current again
    wait_for_result(page)
    expect(page.locator("#stale")).to_be_hidden()


def test_a_fresh_expression_with_one_input_is_ticked_and_differentiates(server, page):
    base, _ = server
    page.goto(base + PERMALINK)
    wait_for_result(page)
    page.fill("#expression", "sum(exp(x))")
    expect(page.locator("#variables input.wrt[data-wrt='x']")).to_be_checked()
    page.click("#go")
    expect(page).to_have_url(re.compile(r"wrt=x"))
    wait_for_result(page)
    assert page.locator("#error").is_hidden()


def test_a_name_deleted_and_typed_again_is_ticked_again(server, page):
    base, _ = server
    page.goto(base + PERMALINK)
    wait_for_result(page)
    page.fill("#expression", "W2*h")   # W1 gone: unticked
    expect(page.locator("#variables tr[data-name='W1']")).to_have_count(0)
    page.fill("#expression", "W2*W1*h")
    expect(page.locator("#variables input.wrt[data-wrt='W1']")).to_be_checked()


def test_the_answer_is_an_equation_under_the_question(server, page):
    base, _ = server
    page.goto(base + "/?expr=" + "z1%20%3D%20W1*x%3B%20L%20%3D%200.5*sum((W2*tanh(z1)%20-%20y).%5E2)"
              + "&wrt=W1&layout=gradient&shapes=W1:3x2;W2:2x3")
    wait_for_result(page)
    question = page.locator("#question-math math")
    expect(question).to_have_count(1)
    expect(question).to_contain_text("z")   # the user's own statements, as math
    equation = page.locator("#math math")
    expect(equation).to_contain_text("∂")
    expect(equation).to_contain_text("L")   # the program's own name for its value, not f
    expect(page.locator("#text")).not_to_contain_text("∂")   # the copyable text stays the formula


def test_back_and_forward_restore_the_whole_state_the_url_describes(server, page):
    """Issue 25, item 6: the example menu follows Back, and Back to / restores the first example."""
    base, _ = server
    page.goto(base + "/")
    wait_for_result(page)
    first = page.locator("#expression").input_value()
    page.select_option("#examples", index=2)   # C = A·B
    expect(page).to_have_url(re.compile("expr=A"))
    wait_for_result(page)
    chosen = page.locator("#expression").input_value()
    page.select_option("#examples", index=4)   # x'·A·x
    expect(page).to_have_url(re.compile("expr=x"))
    wait_for_result(page)

    page.go_back()
    expect(page.locator("#expression")).to_have_value(chosen)
    expect(page.locator("#examples")).to_have_value("1")
    wait_for_result(page)
    page.go_back()
    expect(page.locator("#expression")).to_have_value(first)
    expect(page.locator("#examples")).to_have_value("0")
    wait_for_result(page)
    page.go_forward()
    expect(page.locator("#expression")).to_have_value(chosen)
    expect(page.locator("#examples")).to_have_value("1")


@pytest.mark.parametrize("index", [1, 2, 3, 5])
def test_on_a_phone_the_variables_fit_and_the_answer_is_in_the_first_screen(server, phone, index):
    """Issue 25, item 7: at 390 px the variables table cut off its type menus (17 px too wide);
    after Differentiate the answer's heading is on screen."""
    base, _ = server
    phone.goto(base + "/")
    wait_for_result(phone)
    phone.select_option("#examples", index=index)
    wait_for_result(phone)
    expect(phone.locator("body.busy")).to_have_count(0)
    widths = phone.evaluate("""() => { const t = document.querySelector('.variables .table-scroll');
                                        return [t.scrollWidth, t.clientWidth]; }""")
    assert widths[0] <= widths[1] + 1, widths
    phone.click("#go")
    wait_for_result(phone)
    phone.wait_for_timeout(600)   # the smooth scroll to the answer
    top = phone.evaluate("() => document.querySelector('#result-title').getBoundingClientRect().top")
    assert 0 <= top < 844 / 2, top


def test_one_type_menu_picks_the_kind_and_the_structure_and_fills_in_the_shape(server, page):
    """Issue 25, item 8: scalar / vector / matrix / symmetric matrix … in one menu, as on
    matrixcalculus.org; a choice fills in the shape, which stays editable."""
    base, _ = server
    page.goto(base + "/?expr=x'*A*x&wrt=x&layout=gradient")
    wait_for_result(page)
    expect(page.locator("#variables select.type[data-name='x']")).to_have_value("vector")
    expect(page.locator("#variables select.type[data-name='A']")).to_have_value("matrix")
    options = page.locator("#variables select.type[data-name='x'] option").all_text_contents()
    assert "symmetric matrix" not in options and "scalar" in options

    page.select_option("#variables select.type[data-name='A']", "symmetric")   # n x n already: kept
    expect(page.locator("#variables input.shape[data-name='A']")).to_have_attribute("placeholder", "n x n")
    page.click("#go")
    expect(page).to_have_url(re.compile("assume=A:symmetric"))
    wait_for_result(page)
    expect(page.locator("#text")).to_have_text("2*A*x")

    page.goto(base + "/?expr=y'*A*x&wrt=x&layout=gradient")   # A is m x n here: symmetric makes it square
    wait_for_result(page)
    page.select_option("#variables select.type[data-name='A']", "diagonal")
    expect(page.locator("#variables input.shape[data-name='A']")).to_have_value(re.compile(r"^(\w) x \1$"))
    page.click("#go")
    expect(page).to_have_url(re.compile("assume=A:diagonal"))
    wait_for_result(page)

    page.select_option("#variables select.type[data-name='x']", "scalar")
    expect(page.locator("#variables input.shape[data-name='x']")).to_have_value("scalar")
    page.fill("#variables input.shape[data-name='x']", "n")   # still editable: back to a vector
    expect(page.locator("#variables select.type[data-name='x']")).to_have_value("vector")
