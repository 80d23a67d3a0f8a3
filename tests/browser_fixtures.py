"""Shared by the browser tests: the real server (uvicorn, in a subprocess) and headless Chromium.

tests/conftest.py registers this module as a plugin: each test module that names these fixtures gets
one server and one browser for all its tests.
Screenshots land in artifacts/ (git-ignored) for a person to look at. Skipped only when Debian's
Chromium is not installed.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest
from stand_in import running_server

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PERMALINK = "/?expr=W2*W1*h&wrt=W1&layout=numerator&shapes=W2:1x2;W1:2x2;h:2"
NETWORK = ("z2 = W2*x\na2 = sigmoid(z2)\nz3 = W3*a2\na3 = sigmoid(z3)\n0.5*sum((a3 - y).^2)")
NETWORK_LINK = ("/?expr=z2%20%3D%20W2*x%0Aa2%20%3D%20sigmoid(z2)%0Az3%20%3D%20W3*a2%0Aa3%20%3D%20"
                "sigmoid(z3)%0A0.5*sum((a3%20-%20y).%5E2)&wrt=W2&layout=denominator&shapes=x:2;W2:3x2;W3:2x3;y:2")

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                    reason=f"no Chromium at {CHROMIUM} (apt install chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, capabilities) of a server started for this module."""
    errors = tmp_path_factory.mktemp("server") / "stderr.txt"
    with running_server(errors=errors) as base:
        with urllib.request.urlopen(base + "/api/capabilities", timeout=10) as reply:
            capabilities = json.load(reply)
        yield base, capabilities


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


def open_page(browser, viewport=DESKTOP, **options):
    """A fresh context and page that records script errors in ``page.problems``."""
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    return page


@pytest.fixture
def page(browser):
    page = open_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def phone(browser):
    page = open_page(browser, PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    yield page
    page.context.close()


def expect(target):
    """Playwright's retrying assertions: they poll without eval, which the page's CSP forbids.
    They wait up to 20 s: the machine running the tests may be busy (no test is about speed)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    return expect(target)


def wait_for_result(page):
    """The answers drawn, every one of them, and their finite-difference checks (their own requests) back."""
    page.wait_for_selector("#result:not([hidden]):not(.stale) #math math", timeout=20_000)
    expect(page.locator("body.busy")).to_have_count(0, timeout=20_000)
    expect(page.locator(".verdict.running")).to_have_count(0, timeout=20_000)


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def open_section(server, page, link: str, section: str, needs: str) -> None:
    """The page at ``link`` with its card ``section`` opened; skipped when the engine lacks ``needs``."""
    base, capabilities = server
    if not capabilities[needs]:
        pytest.skip(f"the engine has no {needs}")
    page.goto(base + link)
    wait_for_result(page)
    page.click(f"#{section}-card summary")


def tick(page, *names):
    """Tick exactly ``names`` in the Variables table (waiting for their rows)."""
    for name in names:
        page.wait_for_selector(f"#variables input.wrt[data-wrt='{name}']")
    for box in page.locator("#variables input.wrt").all():
        box.set_checked(box.get_attribute("data-wrt") in names)
