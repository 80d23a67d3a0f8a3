"""Issue 25, item 4 in the browser: every curated example's answer is checked against finite
differences; symbolic dimensions get small distinct sizes, and the page says which."""

import pytest

from browser_fixtures import expect, needs_chromium, wait_for_result

pytestmark = [pytest.mark.browser, needs_chromium]


def test_every_example_is_checked(server, page):
    base, _ = server
    page.goto(base + "/")
    wait_for_result(page)
    titles = page.locator("#examples option").all_text_contents()
    unchecked, checked = [], 0
    for index, title in enumerate(titles):
        if page.locator("#examples option").nth(index).get_attribute("value") == "":
            continue
        page.select_option("#examples", index=index)
        page.wait_for_selector("#result:not([hidden]):not(.stale) #math math, #error:not([hidden])", timeout=30_000)
        expect(page.locator("body.busy")).to_have_count(0)
        expect(page.locator(".verdict.running")).to_have_count(0)   # each check is a request of its own
        for verdict in page.locator(".verdict").all():
            if not verdict.is_visible():
                continue
            checked += verdict.text_content().startswith("✓")
            if not verdict.text_content().startswith("✓"):
                unchecked.append(f"{title}: {verdict.text_content()}")
    assert not unchecked, "\n".join(unchecked)
    assert checked >= len(titles) - 1  # every example shows at least one checked answer


def test_symbolic_sizes_are_named_with_the_check(server, page):
    base, _ = server
    page.goto(base + "/?expr=x%27*A*x&wrt=x&layout=gradient")
    wait_for_result(page)
    expect(page.locator("#check")).to_contain_text("✓")
    expect(page.locator("#check-values")).to_contain_text("With the sizes n = 2")
