"""Issue 16, what matrixcalculus.org users expect, in the browser: a type per variable, several
gradients at once, the second derivative as a choice, a script to download, the operator reference,
the classic examples, the bias trap; and no serious accessibility violation (axe-core)."""

import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from browser_fixtures import NETWORK_LINK, PERMALINK, expect, needs_chromium, open_section, screenshot, tick, wait_for_result

pytestmark = [pytest.mark.browser, needs_chromium]


def query(page) -> dict:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query).items()}


def serious_violations(page) -> list:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


# ----- accessibility -------------------------------------------------------------------------------------

@pytest.mark.parametrize("viewport", ["page", "phone"])
def test_no_serious_accessibility_violations_on_the_landing_and_a_result_page(server, request, viewport):
    view = request.getfixturevalue(viewport)
    base, _ = server
    view.goto(base + "/")
    wait_for_result(view)
    assert serious_violations(view) == []
    view.goto(base + "/?expr=sum(sigmoid(W*x%20%2B%20b))&wrt=W,b&layout=gradient&shapes=W:3x2")
    wait_for_result(view)
    for section in ("explain", "code", "claim"):
        if view.locator(f"#{section}-card").is_visible():
            view.click(f"#{section}-card summary")
    expect(view.locator("#code")).to_contain_text("def derivative")
    view.click("#reference summary")
    expect(view.locator("#reference-body table").first).to_be_visible()
    assert serious_violations(view) == []


# ----- types, several gradients, the second derivative ----------------------------------------------------

def test_a_type_per_variable_goes_into_the_request_and_the_link(server, page):
    base, _ = server
    sent = []
    page.on("request", lambda r: r.url.endswith("/api/diff") and sent.append(r.post_data_json))
    page.goto(base + "/?expr=x'*S*x&wrt=x&layout=gradient&shapes=S:3x3")
    wait_for_result(page)
    kinds = page.locator("#variables select.type[data-name='x'] option").all_text_contents()
    assert "symmetric" not in kinds   # a vector is never symmetric
    page.select_option("#variables select.type[data-name='S']", "symmetric")
    page.click("#go")
    expect(page).to_have_url(re.compile("assume=S:symmetric"))
    wait_for_result(page)
    assert sent[-1]["assume"] == {"S": "symmetric"}
    expect(page.locator("#text")).to_have_text("2*S*x")   # the answer uses it
    page.reload()
    wait_for_result(page)
    expect(page.locator("#variables select.type[data-name='S']")).to_have_value("symmetric")


def test_one_result_per_ticked_variable(server, page):
    base, _ = server
    page.goto(base + "/?expr=norm2(U*V'%20-%20R)%5E2&wrt=U&layout=gradient&shapes=U:5x2;V:4x2;R:5x4")
    wait_for_result(page)
    tick(page, "U", "V")
    page.click("#go")
    expect(page).to_have_url(re.compile("wrt=U,V"))
    expect(page.locator("#result-title-1")).to_have_text("Derivative with respect to V")
    expect(page.locator("#shape")).to_have_text("5 × 2")
    expect(page.locator("#shape-1")).to_have_text("4 × 2")
    expect(page.locator("#check-1")).to_contain_text("Matches")
    screenshot(page, "two-gradients-desktop.png")


def test_the_second_derivative_is_a_choice_not_a_comma(server, page):
    base, _ = server
    page.goto(base + "/?expr=x'*A*y&wrt=x&layout=numerator&shapes=A:2x3")
    wait_for_result(page)
    page.select_option("#order", "2")
    page.click("#go")
    expect(page).to_have_url(re.compile("order=2"))
    expect(page.locator("#result-title")).to_contain_text("Hessian")
    tick(page, "x", "y")
    page.click("#go")
    expect(page.locator("#result-title")).to_have_text("Second derivative by x and y (mixed)")
    expect(page.locator("#shape")).to_have_text("2 × 3")
    tick(page, "x", "y", "A")
    page.click("#go")
    expect(page.locator("#error-message")).to_contain_text("one ticked variable")
    page.goto(base + "/?expr=x'*A*x&wrt=x,x&layout=gradient")   # an older link: a repeated name
    wait_for_result(page)
    expect(page.locator("#order")).to_have_value("2")


# ----- the script, the reference, the examples, the bias trap --------------------------------------------

def test_download_py_runs_and_checks_itself(server, page, tmp_path):
    open_section(server, page, PERMALINK, "code", "codegen")
    expect(page.locator("#code")).to_contain_text("import numpy")
    with page.expect_download() as download:
        page.click("#download")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == "matdiff_W1_numpy.py"
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("passed")


def test_the_operator_reference_comes_from_the_server(server, page):
    base, capabilities = server
    page.goto(base + "/")
    wait_for_result(page)
    page.click("#reference summary")
    rows = page.locator("#reference-body tbody tr")
    expect(rows.first).to_be_visible()
    listed = page.locator("#reference-body").text_content()
    for row in capabilities["reference"]["functions"]:
        assert row["syntax"] in listed
    assert "logistic function" in listed and "Kronecker product" in listed


def test_every_example_loads_with_its_shapes_and_gives_an_answer(server, page):
    base, _ = server
    page.goto(base + "/")
    wait_for_result(page)
    titles = page.locator("#examples option").all_text_contents()[1:]
    assert len(titles) >= 15
    for i, title in enumerate(titles):
        page.select_option("#examples", str(i))
        expect(page).to_have_url(re.compile("expr="))
        page.wait_for_selector("#result:not([hidden]):not(.stale), #error:not([hidden])", timeout=30_000)
        assert page.locator("#error").is_hidden(), (title, page.locator("#error-message").text_content())
        shapes = query(page).get("shapes", "")
        for pair in filter(None, shapes.split(";")):
            name, shape = pair.split(":")
            assert page.locator(f"#variables input.shape[data-name='{name}']").input_value() == shape, title


def test_the_bias_trap_is_named_with_a_one_click_way_out(server, page):
    base, _ = server
    page.goto(base + "/?expr=sum(sigmoid(W*x%20%2B%20b))&wrt=b&layout=gradient&shapes=W:3x2")
    wait_for_result(page)
    expect(page.locator("#shape")).to_have_text("scalar")
    trap = page.locator("#variables tr.trap")
    expect(trap).to_contain_text("b is a scalar here only by the naming rule")
    expect(trap).to_contain_text("vector of length 3")
    trap.locator("button").click()
    expect(page.locator("#variables input.shape[data-name='b']")).to_have_value("3")
    expect(trap).to_have_count(0)
    page.click("#go")
    expect(page).to_have_url(re.compile("b:3"))
    expect(page.locator("#shape")).to_have_text("3")


def test_several_gradients_also_show_the_one_backward_pass(server, page):
    base, _ = server
    with urllib.request.urlopen(base + "/openapi.json") as reply:
        if "/api/gradients" not in json.load(reply)["paths"]:
            pytest.skip("this server has no /api/gradients yet")
    page.goto(base + NETWORK_LINK.replace("wrt=W2&layout=denominator", "wrt=W2,W3&layout=gradient"))
    wait_for_result(page)
    expect(page.locator("#backward-card")).to_be_visible()
    expect(page.locator("#backward-math math")).to_have_count(1)
    text = page.locator("#backward-text").text_content()
    assert "W2" in text and "W3" in text and "x'" in text
    page.uncheck("#variables input.wrt[data-wrt='W3']")
    page.click("#go")
    expect(page.locator("#backward-card")).to_be_hidden()   # one gradient: nothing more to share
