"""Issue 16, bugs 1, 2, 6 and 7 in the browser: no shape carried over from another expression, slow
sections on demand and cancellable, requests that stall, stale results, errors shown once."""

import json
import re
import urllib.parse

import pytest

from browser_fixtures import (NETWORK, NETWORK_LINK, PERMALINK, expect, needs_chromium, open_section, tick,
                              wait_for_result)

pytestmark = [pytest.mark.browser, needs_chromium]


def url_shapes(page) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query).get("shapes", [""])[0]


def choose_example(page, title_start):
    page.select_option("#examples", label=next(
        label for label in page.locator("#examples option").all_text_contents() if label.startswith(title_start)))


# ----- bug 1: shapes belong to the expression they were given for --------------------------------------

def test_an_examples_shapes_do_not_leak_into_a_fresh_expression(server, page):
    base, _ = server
    page.goto(base + "/")
    wait_for_result(page)
    choose_example(page, "C = A·B")
    expect(page.locator("#shape")).to_have_text("1 × 2 × 3 × 2")
    page.fill("#expression", "x'*A*x")
    tick(page, "x")
    page.click("#go")
    expect(page).to_have_url(re.compile("expr=x%27\\*A"))
    wait_for_result(page)
    assert page.locator("#error").is_hidden()
    assert page.locator("#variables input[data-name='A']").input_value() == ""
    assert "A:1x3" not in page.url

    choose_example(page, "y = W2·W1·h")
    wait_for_result(page)
    page.fill("#expression", "z = W2*x\nL = sum(sigmoid(W3*z))")
    tick(page, "W2")
    page.click("#go")
    expect(page).to_have_url(re.compile("expr=z"))
    wait_for_result(page)
    assert "W2:1x2" not in page.url
    assert page.locator("#variables input[data-name='W2']").input_value() == ""


def test_typed_shapes_stay_inferred_ones_are_never_sent(server, page):
    base, _ = server
    page.goto(base + "/?expr=A*x&wrt=x&layout=numerator")
    wait_for_result(page)
    page.fill("#variables input[data-name='A']", "2x3")
    page.fill("#expression", "A*x + y")   # an edit: the shape typed for A stays
    expect(page.locator("#variables tr[data-name='y']")).to_have_count(1)
    assert page.locator("#variables input[data-name='A']").input_value() == "2x3"
    expect(page.locator("#variables tr[data-name='A'] .origin")).to_have_text("yours")
    expect(page.locator("#variables input[data-name='x']")).to_have_attribute("placeholder", "3")
    expect(page.locator("#variables tr[data-name='x'] .origin")).to_have_text("inferred")
    page.click("#go")
    expect(page).to_have_url(re.compile("y"))
    wait_for_result(page)
    assert url_shapes(page) == "A:2x3"
    assert "x:3" not in page.locator("#permalink").get_attribute("href")
    page.fill("#expression", "B*x")   # A is gone: so is its shape
    page.fill("#expression", "A*x")
    expect(page.locator("#variables input[data-name='A']")).to_have_value("")


# ----- bug 2: slow sections on demand, in their own cancellable requests -----------------------------------

def test_the_slow_sections_wait_until_opened_and_a_new_query_cancels_them(server, page):
    base, capabilities = server
    if not capabilities["entries"]:
        pytest.skip("the engine has no entries")
    asked, dropped = [], []
    page.on("request", lambda request: asked.append(request.url.rsplit("/", 1)[-1]))
    page.on("requestfailed", lambda request: dropped.append(request.url.rsplit("/", 1)[-1]))
    page.route("**/api/entries", lambda route: None)   # as slow as it gets: still running at the next query
    page.goto(base + NETWORK_LINK.replace("a3%20%3D%20sigmoid", "a3%20%3D%20tanh"))
    wait_for_result(page)
    page.wait_for_timeout(300)
    assert "diff" in asked
    assert not {"entries", "explain", "codegen"} & set(asked)   # nothing slow runs unasked
    with page.expect_request("**/api/entries"):   # the request event comes on its own time
        page.click("#entries-card summary")
    expect(page.locator("#entries")).to_contain_text("Working")
    page.select_option("#layout", "numerator")
    page.click("#go")   # a follow-up query while the entries are still being computed
    expect(page).to_have_url(re.compile("layout=numerator"))
    wait_for_result(page)
    expect(page.locator("#layout-name")).to_have_text("numerator layout")
    expect(page.locator("#go")).to_be_enabled()
    for _ in range(50):   # the browser dropped the old request: the server can stop its work
        if "entries" in dropped:
            break
        page.wait_for_timeout(100)
    assert "entries" in dropped
    assert not page.locator("#entries-card").get_attribute("open")


# ----- bug 6: requests that stall, stale results, capabilities, errors shown once --------------------------

def quick_timeout(page, base):
    """The server says it stops work after 0.2 s: the page then gives up after 2.4 s."""
    with __import__("urllib.request").request.urlopen(base + "/api/capabilities") as reply:
        capabilities = json.load(reply)
    capabilities["limits"]["timeout_s"] = 0.2
    page.route("**/api/capabilities", lambda route: route.fulfill(json=capabilities))


def test_a_stalled_request_times_out_with_a_message(server, page):
    base, _ = server
    quick_timeout(page, base)
    page.route("**/api/diff", lambda route: None)   # never answered
    page.goto(base + PERMALINK)
    expect(page.locator("#go")).to_have_text("Working…")
    expect(page.locator("#error-message")).to_contain_text("no answer within 2.4 s", timeout=10_000)
    expect(page.locator("#go")).to_have_text("Differentiate")
    assert page.locator("#result").is_hidden()


def test_cancel_stops_the_query_and_clears_the_old_result(server, page):
    base, _ = server
    page.goto(base + PERMALINK)
    wait_for_result(page)
    page.route("**/api/diff", lambda route: None)
    page.select_option("#layout", "denominator")
    page.click("#go")
    expect(page).to_have_url(re.compile("layout=denominator"))
    expect(page.locator("#stale")).to_be_visible()   # the old answer is marked as the old one
    expect(page.locator("#result")).to_have_class(re.compile("stale"))
    page.click("#cancel")
    expect(page.locator("#result")).to_be_hidden()
    expect(page.locator("#progress")).to_contain_text("Stopped")
    expect(page.locator("#go")).to_be_enabled()


def test_capabilities_that_fail_are_reported(server, page):
    base, _ = server
    page.route("**/api/capabilities", lambda route: route.fulfill(status=500, body="oops"))
    page.goto(base + PERMALINK)
    wait_for_result(page)
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("could not be loaded")
    page.unroute("**/api/capabilities")
    page.click("#notice button")
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#explain-card")).to_be_visible()


def test_an_error_is_shown_once(server, page):
    base, _ = server
    page.goto(base + PERMALINK)
    wait_for_result(page)
    page.fill("#expression", "W2*W1*h +* x")
    page.click("#go")
    expect(page.locator("#error")).to_be_visible()
    page.wait_for_timeout(600)   # the variables table has had its answer too
    message = page.locator("#error-message").text_content()
    shown = [t for t in page.locator("main p:visible").all_text_contents() if message in t]
    assert shown == [message]


# ----- bug 7: a program that ends in an assignment; hints and code in the page's terms -------------------

def test_a_program_ending_in_an_assignment_is_accepted(server, page):
    base, _ = server
    page.goto(base + "/?expr=" + urllib.parse.quote("z = W*x; L = 0.5*sum(z.^2)") + "&wrt=W&layout=gradient"
              "&shapes=W:2x3;x:3")
    wait_for_result(page)
    assert page.locator("#shape").text_content() == "2 × 3"


def test_check_my_answer_speaks_of_the_page_not_the_command_line(server, page):
    open_section(server, page, PERMALINK, "claim", "check")
    page.fill("#claim", "W2*h")
    page.click("#claim-form button")
    expect(page.locator("#verdict")).to_contain_text("✗")
    verdict = page.locator("#verdict").text_content()
    assert "matdiff " not in verdict and "--" not in verdict


def test_generated_code_has_no_literal_backslash_n(server, page):
    open_section(server, page, NETWORK_LINK, "code", "codegen")
    expect(page.locator("#code")).to_contain_text("def derivative")
    code = page.locator("#code").text_content()
    assert "\\n" not in code
    assert all(line.strip() in code for line in NETWORK.splitlines())
