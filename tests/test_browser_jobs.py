"""Issue 22 in the browser: each ticked variable's answer and each section of an answer is its own
request with its own time limit, so one slow answer never hides the others, and an answer shows
before its finite-difference check is back."""

import json

import pytest

from browser_fixtures import NETWORK_LINK, PERMALINK, expect, needs_chromium, wait_for_result

pytestmark = [pytest.mark.browser, needs_chromium]

TOO_LONG = {"error": "the computation took longer than 10 s and was stopped", "position": None}


def test_a_slow_answer_says_so_in_its_own_block_and_the_others_are_shown(server, page):
    base, _ = server

    def slow_for_w3(route):
        if json.loads(route.request.post_data)["wrt"] == ["W3"]:
            route.fulfill(status=408, json=TOO_LONG)
        else:
            route.continue_()

    page.route("**/api/diff", slow_for_w3)
    page.goto(base + NETWORK_LINK.replace("wrt=W2", "wrt=W2,W3"))
    wait_for_result(page)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#result-title")).to_have_text("Derivative with respect to W2")
    expect(page.locator("#text")).to_contain_text("x'")   # W2's answer, drawn
    expect(page.locator("#result-title-1")).to_have_text("Derivative with respect to W3")
    expect(page.locator("#math-1")).to_contain_text("took longer than 10 s")
    expect(page.locator("#text-1")).to_be_hidden()


def test_an_answer_is_shown_while_its_check_is_still_running(server, page):
    base, _ = server
    held = []   # the check's request, answered below once the answer is seen without it
    page.route("**/api/diff/check", lambda route: held.append(route))
    page.goto(base + PERMALINK)
    expect(page.locator("#result:not([hidden]) #math math")).to_have_count(1)
    expect(page.locator("#check")).to_contain_text("Checking against finite differences")
    expect(page.locator("#text")).to_have_text("h*W2")
    assert held, "the check is a request of its own"
    held[0].fulfill(status=408, json=TOO_LONG)
    expect(page.locator("#check")).to_contain_text("Not checked: the computation took longer")
    expect(page.locator("#text")).to_have_text("h*W2")   # the answer stays
