"""Issue 25, "shapes you can see": step by step draws the chain as boxes whose sides are the
factors' dimensions, for the three seed questions; the boxes agree with the shapes explain gives."""

import json
import urllib.parse
import urllib.request

import pytest

from browser_fixtures import NETWORK_LINK, PERMALINK, expect, needs_chromium, open_section

pytestmark = [pytest.mark.browser, needs_chromium]

SEEDS = [
    PERMALINK,                                                              # ∂(W2·W1·h)/∂W1
    "/?expr=A*B&wrt=B&layout=numerator&shapes=A:1x3;B:3x2",                 # ∂C/∂B: a tensor
    NETWORK_LINK,                                                           # the 2-3-2 network
]


def _explained(base: str, link: str) -> dict:
    query = dict(part.split("=", 1) for part in link[2:].split("&"))
    unquote = urllib.parse.unquote
    shapes = {}
    for item in unquote(query.get("shapes", "")).split(";"):
        if ":" in item:
            name, spec = item.split(":")
            shapes[name] = [int(d) for d in spec.split("x")]
    body = {"expression": unquote(query["expr"]), "wrt": unquote(query["wrt"]).split(","),
            "layout": query["layout"], "shapes": shapes}
    request = urllib.request.Request(base + "/api/explain", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as reply:
        return json.load(reply)


@pytest.mark.parametrize("link", SEEDS)
def test_the_chain_is_drawn_with_the_shapes_explain_gives(server, page, link):
    base, _ = server
    open_section(server, page, link, "explain", "explain")
    figure = page.locator("#explanation figure.chain-diagram")
    expect(figure).to_have_count(1)
    chain = _explained(base, link)["chain"]
    drawn = figure.locator("g.factor")
    expect(drawn).to_have_count(len(chain))
    for k, factor in enumerate(chain):
        box = drawn.nth(k)
        assert box.get_attribute("data-shape") == ("×".join(map(str, factor["shape"])) or "scalar")
        rect = box.locator("rect.box")
        width, height = float(rect.get_attribute("width")), float(rect.get_attribute("height"))
        shape = factor["shape"]
        rows, columns = (shape[-2], shape[-1]) if len(shape) >= 2 else (shape[0], 1) if shape else (1, 1)
        assert abs(width / height - columns / rows) < 1e-9, (factor, width, height)   # to scale
        assert box.locator("rect.slice").count() == (min(shape[0], 4) if len(shape) > 2 else 0)
        assert ("diagonal" in box.get_attribute("class")) == factor["diagonal"]
    caption = figure.locator("figcaption").text_content()
    assert caption.startswith("The chain as boxes") and all(f"∂{f['of']}/∂{f['by']}" in caption for f in chain)
