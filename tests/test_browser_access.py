"""Issue 16, bugs 3, 4 and 5 in the browser: phones (the answer scrolled into view and focused, wide
formulas that say they scroll), the keyboard (examples menu, code tabs) and rendering (𝟏ₙ, (W₂)₁,₁)."""

import re
import urllib.parse

import pytest

from browser_fixtures import PERMALINK, expect, needs_chromium, open_section, screenshot, wait_for_result

pytestmark = [pytest.mark.browser, needs_chromium]


# ----- bug 3: phones ----------------------------------------------------------------------------------------

def test_on_a_phone_the_answer_is_scrolled_into_view_and_focused(server, phone):
    base, _ = server
    phone.goto(base + PERMALINK)
    wait_for_result(phone)
    phone.evaluate("window.scrollTo(0, 0)")
    phone.select_option("#layout", "denominator")
    phone.tap("#go")
    expect(phone).to_have_url(re.compile("layout=denominator"))
    expect(phone.locator("#result-title")).to_be_focused()
    expect(phone.locator("#result-title")).to_be_in_viewport()

    phone.evaluate("window.scrollTo(0, 0)")
    phone.fill("#expression", "W2*W1*h +")
    phone.tap("#go")
    expect(phone.locator("#error-title")).to_be_focused()
    expect(phone.locator("#error-title")).to_be_in_viewport()


def test_a_formula_wider_than_the_screen_says_it_scrolls(server, phone):
    base, _ = server
    logistic = urllib.parse.quote("sum(log(1 + exp(-y.*(X*w))))")
    phone.goto(base + f"/?expr={logistic}&wrt=w&order=2&layout=gradient&shapes=X:6x3;w:3;y:6")
    wait_for_result(phone)
    wide = phone.locator("#math")
    expect(wide).to_have_class(re.compile("scrolls"))
    assert wide.evaluate("box => box.scrollWidth > box.clientWidth")
    assert wide.get_attribute("tabindex") == "0"   # the keyboard can scroll it too
    assert "scroll sideways" in wide.evaluate("box => getComputedStyle(box, '::before').content")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "wide-formula-phone.png")


# ----- bug 4: the keyboard ------------------------------------------------------------------------------------

def test_the_examples_menu_keeps_its_choice_and_arrow_down_moves_on(server, page):
    base, _ = server
    page.goto(base + "/")
    wait_for_result(page)
    menu = page.locator("#examples")
    menu.focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#expression")).to_have_value("A*B")
    expect(menu).to_have_value("1")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#expression")).to_have_value(re.compile("^z2 = W2"))
    expect(menu).to_have_value("2")
    expect(menu).to_be_focused()
    wait_for_result(page)
    page.fill("#expression", "x'*x")   # your own expression now: the menu says so
    expect(menu).to_have_value("")


def test_code_tabs_follow_the_aria_tabs_pattern(server, page):
    open_section(server, page, PERMALINK, "code", "codegen")
    expect(page.locator("#code")).to_contain_text("import numpy")
    tabs = page.locator("#code-tabs [role=tab]")
    assert [t.get_attribute("tabindex") for t in tabs.all()] == ["0", "-1", "-1"]
    tabs.nth(0).focus()
    page.keyboard.press("ArrowRight")
    expect(tabs.nth(1)).to_be_focused()
    expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#code")).to_contain_text("import jax")
    page.keyboard.press("End")
    expect(tabs.nth(2)).to_be_focused()
    expect(page.locator("#code")).to_contain_text("import torch")
    page.keyboard.press("ArrowRight")   # wraps around
    expect(tabs.nth(0)).to_be_focused()
    expect(page.locator("#code")).to_contain_text("import numpy")
    assert page.locator("#code-panel").get_attribute("aria-labelledby") == tabs.nth(0).get_attribute("id")
    assert [t.get_attribute("tabindex") for t in tabs.all()] == ["0", "-1", "-1"]


# ----- bug 5: rendering -----------------------------------------------------------------------------------------

def test_the_ones_vector_is_a_bold_one(server, page):
    base, _ = server
    page.goto(base + "/?expr=" + urllib.parse.quote("W*x + b") + "&wrt=b&layout=numerator&shapes=W:3x2")
    wait_for_result(page)
    assert page.locator("#text").text_content() == "ones(3, 1)"
    assert "𝟏" in page.locator("#math").text_content()


def test_entries_of_a_numbered_matrix_read_unambiguously(server, page):
    open_section(server, page, PERMALINK, "entries", "entries")
    math = page.locator("#entries math")
    expect(math).to_have_count(1)
    text = re.sub(r"\s+", "", math.text_content())
    assert "(W2)1,1" in text and "W211" not in text
