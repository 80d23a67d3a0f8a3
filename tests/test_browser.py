"""The web page end to end: the real server (uvicorn, in a subprocess) and headless Chromium.

Screenshots land in artifacts/ (git-ignored) for a person to look at: desktop and
phone width. Skipped only when Debian's Chromium is not installed.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PERMALINK = "/?expr=W2*W1*h&wrt=W1&layout=numerator&shapes=W2:1x2;W1:2x2;h:2"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "stderr.txt"  # a file, not a pipe: a full pipe would stall it
    source = str(Path(__file__).resolve().parent.parent / "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p))
    stderr = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", f"from matdiff.web.server import serve; serve(port={port})"],
        env=env, stdout=subprocess.DEVNULL, stderr=stderr,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/api/capabilities", timeout=1) as reply:
                capabilities = json.load(reply)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the server did not start: " + log.read_text(errors="replace")[-2000:])
            time.sleep(0.1)
    yield base, capabilities
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    stderr.close()


def expect(target):
    """Playwright's retrying assertions: they poll without eval, which the page's CSP forbids."""
    from playwright.sync_api import expect

    return expect(target)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    yield page
    context.close()


def wait_for_result(page):
    page.wait_for_selector("#result:not([hidden]) #math math", timeout=20_000)


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


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
    screenshot(page, "permalink-desktop.png")
    assert page.problems == []


def test_the_slower_sections_arrive_on_their_own(server, page):
    base, capabilities = server
    page.goto(base + PERMALINK)
    wait_for_result(page)
    if not (capabilities["explain"] or capabilities["codegen"]):
        pytest.skip("the engine has neither explain nor code generation yet")
    if capabilities["explain"]:
        expect(page.locator("#explanation .report")).to_contain_text("chain rule")
    if capabilities["codegen"]:
        expect(page.locator("#code")).to_contain_text("import numpy")
        page.click("#code-tabs button:has-text('jax')")
        expect(page.locator("#code")).to_contain_text("import jax")
    screenshot(page, "sections-desktop.png")


def test_typing_an_expression_and_picking_a_layout(server, page):
    base, _ = server
    page.goto(base + "/")
    wait_for_result(page)  # a bare visit shows the first example
    page.fill("#expression", "A*B")
    page.fill("#wrt", "B")
    expect(page.locator("#variables tr")).to_have_count(2)
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
    page.goto(base + "/")
    wait_for_result(page)
    page.fill("#expression", "<img src=x onerror=\"window.owned=1\">")
    page.fill("#wrt", "x")
    page.click("#go")
    page.wait_for_selector("#error:not([hidden])")
    page.wait_for_timeout(300)
    assert page.evaluate("window.owned") is None
    assert page.locator("img").count() == 0


def test_examples_menu_runs_the_sigmoid_network(server, page):
    base, _ = server
    page.goto(base + "/")
    wait_for_result(page)
    page.select_option("#examples", index=3)  # the 2-3-2 network (index 0 is the prompt)
    expect(page).to_have_url(re.compile("wrt=W2"))
    expect(page.locator("#shape")).to_have_text("3 × 2")
    expect(page.locator("#check")).to_contain_text("Matches")


def test_check_my_answer(server, page):
    base, capabilities = server
    page.goto(base + PERMALINK)
    wait_for_result(page)
    if not capabilities["check"]:
        assert page.locator("#claim-card").is_hidden()
        pytest.skip("the engine has no matdiff.check yet: the answer box stays hidden")
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
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(base + "/?expr=z2%20%3D%20W2*x%0Aa2%20%3D%20sigmoid(z2)%0Az3%20%3D%20W3*a2%0Aa3%20%3D%20"
                         "sigmoid(z3)%0A0.5*sum((a3%20-%20y).%5E2)&wrt=W2&layout=denominator"
                         "&shapes=x:2;W2:3x2;W3:2x3;y:2")
        wait_for_result(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "network-phone.png")
        page.goto(base + PERMALINK)
        wait_for_result(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "permalink-phone.png")
    finally:
        context.close()
