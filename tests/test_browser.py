"""The web page end to end, the basics: a link shows its result, typing, layouts, history, errors,
hostile text, the examples, the sections and "check my answer" (fixtures: browser_fixtures.py)."""

import re

import pytest

from browser_fixtures import NETWORK_LINK, PERMALINK, PHONE, expect, needs_chromium, open_page, screenshot, tick, wait_for_result

pytestmark = [pytest.mark.browser, needs_chromium]


def test_a_permalink_shows_its_result_without_a_click(server, page):
    base, _ = server
    page.goto(base + PERMALINK)
    wait_for_result(page)
    assert page.locator("#text").text_content() == "h*W2"
    assert page.locator("#shape").text_content() == "2 × 2"
    assert page.locator("#expression").input_value() == "W2*W1*h"
    assert page.locator("#layout").input_value() == "numerator"
    assert "Matches central finite differences" in page.locator("#check").text_content()
    assert page.locator("#variables input[data-name='W1']").input_value() == "2x2"
    assert page.locator("#variables input.wrt[data-wrt='W1']").is_checked()
    screenshot(page, "permalink-desktop.png")
    assert page.problems == []


def test_the_slower_sections_arrive_when_opened(server, page):
    base, capabilities = server
    page.goto(base + PERMALINK)
    wait_for_result(page)
    if not (capabilities["explain"] or capabilities["codegen"]):
        pytest.skip("the engine has neither explain nor code generation yet")
    if capabilities["explain"]:
        page.click("#explain-card summary")
        expect(page.locator("#explanation .report")).to_contain_text("chain rule")
    if capabilities["codegen"]:
        page.click("#code-card summary")
        expect(page.locator("#code")).to_contain_text("import numpy")
        page.click("#code-tabs button:has-text('jax')")
        expect(page.locator("#code")).to_contain_text("import jax")
    screenshot(page, "sections-desktop.png")


def test_typing_an_expression_and_picking_a_layout(server, page):
    base, _ = server
    page.goto(base + "/")
    wait_for_result(page)  # a bare visit shows the first example
    page.fill("#expression", "A*B")
    expect(page.locator("#variables tr")).to_have_count(2)
    tick(page, "B")
    page.fill("#variables input[data-name='A']", "1x3")
    page.fill("#variables input[data-name='B']", "3x2")
    page.select_option("#layout", "vec")
    page.click("#go")
    expect(page.locator("#shape")).to_have_text("2 × 6")
    assert page.locator("#math math").count() == 1  # rendered as MathML by the browser itself
    assert page.locator("#text").text_content() == "kron(eye(2), A)"
    assert "expr=A*B" in page.url and "layout=vec" in page.url and "shapes=A:1x3;B:3x2" in page.url
    screenshot(page, "typed-vec-layout.png")
    assert page.problems == []


def test_following_a_shared_link_and_going_back(server, page):
    base, _ = server
    page.goto(base + PERMALINK)
    wait_for_result(page)
    shared = page.locator("#permalink").get_attribute("href")
    page.select_option("#layout", "denominator")
    page.click("#go")
    expect(page).to_have_url(re.compile("layout=denominator"))
    page.go_back()
    expect(page.locator("#layout")).to_have_value("numerator")
    expect(page.locator("#text")).to_have_text("h*W2")
    page.goto(base + shared)
    wait_for_result(page)
    assert page.locator("#text").text_content() == "h*W2"


def test_errors_show_inline_with_a_caret(server, page):
    base, _ = server
    page.goto(base + "/?expr=x%2B*y&wrt=x")
    page.wait_for_selector("#error:not([hidden])")
    assert page.locator("#error-caret").text_content() == "x+*y\n  ^"
    assert page.locator("#result").is_hidden()
    assert "Traceback" not in page.content()


def test_hostile_text_is_shown_as_text_never_run(server, page):
    base, _ = server
    page.goto(base + "/?expr=%3Cimg%20src%3Dx%20onerror%3D%22window.owned%3D1%22%3E&wrt=x")
    page.wait_for_selector("#error:not([hidden])")
    page.wait_for_timeout(300)
    assert page.evaluate("window.owned") is None
    assert page.locator("img").count() == 0
    assert "<img" in page.locator("#error-caret").text_content()


def test_examples_menu_runs_the_sigmoid_network(server, page):
    base, _ = server
    page.goto(base + "/")
    wait_for_result(page)
    page.select_option("#examples", index=3)  # the 2-3-2 network (index 0 is "your own expression")
    expect(page).to_have_url(re.compile("wrt=W2,W3"))
    expect(page.locator("#shape")).to_have_text("3 × 2")
    expect(page.locator("#shape-1")).to_have_text("2 × 3")
    expect(page.locator("#check")).to_contain_text("Matches")
    expect(page.locator("#check-1")).to_contain_text("Matches")


def test_check_my_answer(server, page):
    base, capabilities = server
    page.goto(base + PERMALINK)
    wait_for_result(page)
    if not capabilities["check"]:
        assert page.locator("#claim-card").is_hidden()
        pytest.skip("the engine has no matdiff.check yet: the answer box stays hidden")
    page.click("#claim-card summary")
    page.fill("#claim", "W2'*h'")  # the question's chain-rule answer, transposed: wrong in numerator layout
    page.click("#claim-form button")
    page.wait_for_selector("#verdict .report, #verdict .problem")
    assert "✗" in page.locator("#verdict").text_content()
    page.fill("#claim", "h*W2")
    page.click("#claim-form button")
    expect(page.locator("#verdict")).to_contain_text("✓")
    screenshot(page, "check-answer.png")


def test_phone_width_has_no_sideways_scrolling(server, browser):
    base, _ = server
    page = open_page(browser, PHONE, device_scale_factor=2, is_mobile=True)
    try:
        page.goto(base + NETWORK_LINK)
        wait_for_result(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "network-phone.png")
        page.goto(base + PERMALINK)
        wait_for_result(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "permalink-phone.png")
    finally:
        page.context.close()
