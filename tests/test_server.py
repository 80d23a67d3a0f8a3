"""The web app's JSON API (SPEC §4), through starlette's TestClient and real worker processes.

The worker pool's kill-on-timeout is tested with a stand-in worker (a few lines of
Python that sleep on request), because no engine input is reliably slow on every
machine, and a test must not depend on one being so.
"""

import asyncio
import json
import warnings

import pytest

with warnings.catch_warnings():  # starlette 1.x would rather have httpx2, which is not a dependency
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

import matdiff
from matdiff.engine.lowering import FUNCTION_NAMES
from matdiff.web.server import MAX_BODY_BYTES, MAX_EXPRESSION_CHARS, create_app, features
from matdiff.web.jobs import feature
from matdiff.web.mathml import mathml
from matdiff.web.numcheck import arrange
from matdiff.web.pool import WorkerPool
from stand_in import STAND_IN_COMMAND

SEED_1 = {"expression": "W2*W1*h", "wrt": "W1", "layout": "numerator",
          "shapes": {"W2": [1, 2], "W1": [2, 2], "h": [2]}}
SEED_2 = {"expression": "A*B", "wrt": "B", "layout": "numerator", "shapes": {"A": [1, 3], "B": [3, 2]}}
SEED_3 = {"expression": "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; a3 = sigmoid(z3); 0.5*sum((a3 - y).^2)",
          "wrt": "W2", "layout": "denominator", "shapes": {"x": [2], "W2": [3, 2], "W3": [2, 3], "y": [2]}}


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(workers=2), base_url="http://localhost") as client:
        yield client


# ----- /api/diff ------------------------------------------------------------------------------------


def test_diff_answers_the_first_motivating_question(client):
    reply = client.post("/api/diff", json=SEED_1)
    assert reply.status_code == 200
    body = reply.json()
    assert body["text"] == "h*W2"
    assert body["shape"] == [2, 2] and body["layout"] == "numerator"
    assert body["latex"] and body["index"]
    assert body["mathml"].startswith("<math")
    assert any("scalar" in note for note in body["notes"])
    assert body["check"]["status"] == "passed"


def test_diff_of_matrix_product_is_a_tensor_with_a_kronecker_vec_form(client):
    body = client.post("/api/diff", json={**SEED_2, "include": ["check", "vec"]}).json()
    assert body["text"] is None  # no matrix form: ∂C/∂B is 1×2×3×2
    assert body["shape"] == [1, 2, 3, 2]
    assert body["vec"]["shape"] == [2, 6]
    assert body["check"]["status"] == "passed"


def test_diff_of_the_sigmoid_network_is_checked_numerically(client):
    body = client.post("/api/diff", json=SEED_3).json()
    assert body["shape"] == [3, 2]
    assert body["mathml"]  # a multi-line derivation renders too
    assert body["check"]["status"] == "passed"
    assert body["check"]["max_error"] < 1e-6


@pytest.mark.parametrize("layout", ["numerator", "denominator", "jacobian", "vec"])
def test_every_layout_of_a_vector_by_matrix_derivative_passes_the_check(client, layout):
    reply = client.post("/api/diff", json={"expression": "W*x", "wrt": "W", "layout": layout,
                                           "shapes": {"W": [3, 2], "x": [2]}})
    assert reply.status_code == 200
    assert reply.json()["check"]["status"] == "passed"


def test_hessian_with_a_list_for_wrt(client):
    body = client.post("/api/diff", json={"expression": "x'*A*x", "wrt": ["x", "x"], "layout": "gradient",
                                          "shapes": {"A": [3, 3]}}).json()
    assert body["shape"] == [3, 3]
    assert body["check"]["status"] == "passed"


def test_symbolic_shapes_are_checked_at_small_distinct_sizes(client):
    """Issue 25, item 4: a symbolic dimension gets a small size for the check, and the reply says which."""
    body = client.post("/api/diff", json={"expression": "x'*A*x", "wrt": "x", "layout": "gradient"}).json()
    assert body["text"]
    assert body["check"]["status"] == "passed" and body["check"]["sizes"] == {"n": 2}
    body = client.post("/api/diff", json={"expression": "A*B", "wrt": "B", "layout": "jacobian",
                                          "shapes": {"A": ["m", "k"], "B": ["k", "n"]}}).json()
    assert body["check"]["status"] == "passed" and sorted(body["check"]["sizes"].values()) == [2, 3, 4]


def test_shapes_may_be_written_as_the_page_writes_them(client):
    body = client.post("/api/diff", json={**SEED_1, "shapes": {"W2": "1x2", "W1": "2 x 2", "h": "2"}}).json()
    assert body["text"] == "h*W2"


def test_optional_sections_are_left_out_unless_the_engine_has_them(client):
    body = client.post("/api/diff", json={**SEED_1, "include": ["explain", "entries", "code"]}).json()
    for section, feature_name in [("explain", "explain"), ("entries", "entries"), ("code", "codegen")]:
        if not features()[feature_name]:
            assert section not in body


def test_all_sections_in_one_request_when_the_engine_has_them(client):
    body = client.post("/api/diff", json={**SEED_1, "include": ["check", "vec", "explain", "entries", "code"]}).json()
    if features()["explain"]:
        assert any("chain rule" in line["text"] for line in body["explain"]["lines"])
    if features()["codegen"]:
        assert "def " in body["code"]["numpy"]
    if features()["entries"] and "entries" in body:
        assert body["entries"]["shape"] == [2, 2]


def test_a_page_can_leave_the_slow_parts_out_and_ask_for_each_on_its_own(client):
    lean = client.post("/api/diff", json={**SEED_3, "include": [], "index": False}).json()
    assert lean["index"] is None and lean["text"] and "check" not in lean
    full = client.post("/api/diff", json={**SEED_3, "include": ["check", "vec"]}).json()
    assert full["index"]
    assert client.post("/api/diff/index", json=SEED_3).json() == {"index": full["index"]}
    assert client.post("/api/diff/check", json=SEED_3).json()["check"]["status"] == "passed"
    assert client.post("/api/diff/vec", json=SEED_3).json() == {"vec": full["vec"]}
    assert client.post("/api/diff/vec", json={**SEED_3, "layout": "vec"}).json() == {"vec": None}
    if features()["codegen"]:
        assert "def " in client.post("/api/diff/code", json=SEED_1).json()["code"]["numpy"]


def test_a_section_that_does_not_exist_is_a_json_404(client):
    reply = client.post("/api/diff/everything", json=SEED_1)
    assert reply.status_code == 404
    assert "index" in reply.json()["error"] and reply.json()["position"] is None


def test_a_bad_request_for_a_section_is_400_like_any_other(client):
    reply = client.post("/api/diff/index", json={"expression": "x+*y", "wrt": "x"})
    assert reply.status_code == 400 and reply.json()["position"] == 2


def test_check_diagnoses_the_first_questions_slip(client):
    if not features()["check"]:
        pytest.skip("the engine has no matdiff.check yet")
    verdict = client.post("/api/check", json={**SEED_1, "claim": "W2'*h'"}).json()
    assert verdict["correct"] is False
    assert verdict["lines"]
    assert client.post("/api/check", json={**SEED_1, "claim": "h*W2"}).json()["correct"] is True


# ----- errors -----------------------------------------------------------------------------------------


def test_a_syntax_error_is_400_with_position_and_caret(client):
    reply = client.post("/api/diff", json={"expression": "x+*y", "wrt": "x"})
    assert reply.status_code == 400
    body = reply.json()
    assert body["position"] == 2
    assert body["caret"] == "x+*y\n  ^"
    assert "Traceback" not in reply.text


def test_a_shape_error_names_the_problem(client):
    reply = client.post("/api/diff", json={"expression": "A*x", "wrt": "x", "shapes": {"A": [2, 3], "x": [2]}})
    assert reply.status_code == 400
    assert reply.json()["error"]


@pytest.mark.parametrize("body, words", [
    ({"expression": "", "wrt": "x"}, "non-empty"),
    ({"expression": "x", "wrt": "x", "layout": "sideways"}, "layout"),
    ({"expression": "x", "wrt": "1x"}, "not a variable name"),
    ({"expression": "x", "wrt": ["a", "b", "c", "d"]}, "wrt"),
    ({"expression": "x", "wrt": "x", "shapes": {"x": [2, 2, 2]}}, "shape of x"),
    ({"expression": "x", "wrt": "x", "shapes": {"x": [0]}}, "positive"),
    ({"expression": "x", "wrt": "x", "shapes": {"x": [True]}}, "positive"),
    ({"expression": "x", "wrt": "x", "shapes": {"../etc": [2]}}, "not a variable name"),
    ({"expression": "x", "wrt": "x", "include": ["everything"]}, "include"),
    ({"expression": 42, "wrt": "x"}, "non-empty string"),
])
def test_bad_requests_are_refused_with_a_reason(client, body, words):
    reply = client.post("/api/diff", json=body)
    assert reply.status_code == 400
    assert words in reply.json()["error"]


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"expression": NaN}', b"[" * 10_000])
def test_malformed_bodies_are_400(client, raw):
    reply = client.post("/api/diff", content=raw, headers={"content-type": "application/json"})
    assert reply.status_code == 400
    assert reply.json()["error"]


def test_an_expression_over_the_length_limit_is_refused_before_parsing(client):
    reply = client.post("/api/diff", json={"expression": "x+" * (MAX_EXPRESSION_CHARS // 2) + "x", "wrt": "x"})
    assert reply.status_code == 400
    assert reply.json()["position"] == MAX_EXPRESSION_CHARS


def test_a_body_over_the_size_limit_is_413(client):
    reply = client.post("/api/diff", content=b" " * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"})
    assert reply.status_code == 413


def test_deep_nesting_is_a_clean_error(client):
    reply = client.post("/api/diff", json={"expression": "-" * 3000 + "x", "wrt": "x"})
    assert reply.status_code == 400
    assert "deep" in reply.json()["error"]


def test_a_huge_numeric_request_fails_cleanly_and_the_server_lives_on(client):
    reply = client.post("/api/evaluate", json={"expression": "sum(ones(60000)*ones(60000)')"})
    assert reply.status_code in (400, 408)
    assert "error" in reply.json()
    assert client.post("/api/diff", json=SEED_1).status_code == 200


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/api/diff").status_code == 405
    assert client.get("/api/diff").json()["error"]
    assert client.get("/nowhere").status_code == 404
    assert client.get("/nowhere").json()["error"]


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2Fserver.py",
                                  "/static/%2e%2e%2f%2e%2e%2fpyproject.toml", "/static//etc/passwd",
                                  "/static/jobs.py", "/static/"])
def test_static_files_come_from_a_fixed_list_only(client, path):
    reply = client.get(path)
    assert reply.status_code == 404
    assert "import" not in reply.text and "root:" not in reply.text


# ----- the page, static files, headers, OpenAPI ----------------------------------------------------------


def test_page_and_its_files_are_served_with_a_strict_content_security_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "cdn" not in page.text.lower()  # works offline
    for name, kind in [("app.js", "javascript"), ("style.css", "css"), ("favicon.svg", "svg")]:
        reply = client.get(f"/static/{name}")
        assert reply.status_code == 200 and kind in reply.headers["content-type"]


def test_api_replies_carry_the_security_headers_too(client):
    reply = client.post("/api/diff", json=SEED_1)
    assert reply.headers["x-frame-options"] == "DENY"


def test_openapi_describes_every_endpoint(client):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in ["/api/diff", "/api/evaluate", "/api/variables", "/api/explain", "/api/check",
                 "/api/entries", "/api/codegen", "/api/capabilities"]:
        assert path in spec["paths"]
    assert {"text", "latex", "index", "shape", "layout"} <= set(spec["components"]["schemas"]["Derivative"]["required"])


def test_openapi_is_valid_and_replies_follow_it(client):
    spec_validator = pytest.importorskip("openapi_spec_validator")
    jsonschema = pytest.importorskip("jsonschema")
    spec = client.get("/openapi.json").json()
    spec_validator.validate(spec)
    for schema, path, body in [("Derivative", "/api/diff", {**SEED_2, "include": ["check", "vec"]}),
                               ("Variables", "/api/variables", {"expression": "A*x"}),
                               ("Error", "/api/diff", {"expression": "x+*y", "wrt": "x"})]:
        reply = client.post(path, json=body).json()
        resolver = {"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}
        jsonschema.Draft202012Validator(resolver).validate(reply)


def test_explain_is_short_unless_asked_for_every_step(client):
    if not features()["explain"]:
        pytest.skip("the engine has no explain")
    network = {"expression": SEED_3["expression"], "wrt": "W2", "shapes": SEED_3["shapes"]}
    short = client.post("/api/explain", json=network).json()["lines"]
    verbose = client.post("/api/explain", json={**network, "verbose": True}).json()["lines"]
    assert len(short) <= 35 < len(verbose)
    assert any("Σ_" in line["text"] for line in verbose) and not any("Σ_" in line["text"] for line in short)
    refused = client.post("/api/explain", json={**network, "verbose": "yes"})
    assert refused.status_code == 400 and "verbose" in refused.json()["error"]


def test_capabilities_follow_the_engine(client):
    body = client.get("/api/capabilities").json()
    assert body["explain"] == (feature("explain") is not None)
    assert body["codegen"] == hasattr(matdiff.Derivative, "code")
    assert "vec" in body["layouts"]
    assert set(FUNCTION_NAMES) == set(body["functions"])  # every function of the language, from its table


@pytest.mark.parametrize("endpoint, feature, extra", [
    ("/api/explain", "explain", {}),
    ("/api/check", "check", {"claim": "h*W2"}),
    ("/api/entries", "entries", {}),
    ("/api/codegen", "codegen", {"target": "numpy"}),
])
def test_optional_endpoints_are_501_until_the_engine_offers_them(client, endpoint, feature, extra):
    reply = client.post(endpoint, json={**SEED_1, **extra})
    if features()[feature]:
        import importlib.util

        sympy_missing = feature == "entries" and importlib.util.find_spec("sympy") is None
        assert reply.status_code == (501 if sympy_missing else 200)
    else:
        assert reply.status_code == 501
        assert reply.json()["error"]


# ----- /api/variables and /api/evaluate -------------------------------------------------------------------


def test_variables_lists_inputs_with_inferred_shapes_in_order_of_use(client):
    body = client.post("/api/variables", json={"expression": SEED_3["expression"], "shapes": {"W2": [3, 2]}}).json()
    rows = {row["name"]: row for row in body["variables"]}
    assert list(rows) == ["W2", "x", "W3", "y"]  # intermediates (z2, a2...) are not inputs
    assert rows["W2"]["given"] and not rows["x"]["given"]
    assert rows["x"]["shape"] == [2]


def test_variables_still_lists_names_when_shapes_clash(client):
    body = client.post("/api/variables", json={"expression": "A*x", "shapes": {"A": [2, 3], "x": [2]}}).json()
    assert [row["name"] for row in body["variables"]] == ["A", "x"]
    assert body["problem"]["error"]


def test_evaluate_computes_a_value(client):
    reply = client.post("/api/evaluate", json={"expression": "A*x", "values": {"A": [[1, 2], [3, 4]], "x": [1, 1]}})
    assert reply.json() == {"value": [3.0, 7.0], "shape": [2]}


def test_evaluate_refuses_ragged_rows_and_non_numbers(client):
    ragged = client.post("/api/evaluate", json={"expression": "sum(A)", "values": {"A": [[1, 2], [3]]}})
    assert ragged.status_code == 400
    text = client.post("/api/evaluate", json={"expression": "x", "values": {"x": ["1"]}})
    assert text.status_code == 400


def test_evaluate_domain_errors_point_at_the_function(client):
    reply = client.post("/api/evaluate", json={"expression": "log(x)", "values": {"x": [-1.0, 2.0]}})
    assert reply.status_code == 400
    assert reply.json()["position"] == 0


# ----- pieces: MathML filter, layout arrangement, the worker pool ------------------------------------------


def test_mathml_passes_only_well_formed_mathml():
    assert mathml(r"\frac{a}{b}").startswith("<math")
    assert mathml(r"\text{<img src=x onerror=alert(1)>}") is None  # latex2mathml copies the tag raw
    assert mathml(None) is None
    assert "<mtable" in mathml(r"\begin{aligned} a &= b \\ c &= d \end{aligned}")
    assert mathml(r"D_{ij} = W_{2}_{ij}")  # the engine's entry of W2


@pytest.mark.parametrize("y_shape, x_shape, layout, expected", [
    ((), (3,), "numerator", (1, 3)), ((), (3,), "denominator", (3, 1)), ((), (2, 3), "numerator", (3, 2)),
    ((), (2, 3), "gradient", (2, 3)), ((4,), (), "numerator", (4, 1)), ((4,), (), "denominator", (1, 4)),
    ((4,), (3,), "denominator", (3, 4)), ((4,), (2, 3), "denominator", (2, 3, 4)),
    ((4, 5), (3,), "denominator", (3, 4, 5)), ((4, 5), (2, 3), "vec", (20, 6)), ((1, 1), (2, 3), "numerator", (3, 2)),
])
def test_arrange_follows_the_layout_table(y_shape, x_shape, layout, expected):
    import numpy as np

    assert arrange(np.zeros(y_shape + x_shape), y_shape, x_shape, layout).shape == expected


def test_arrange_vec_stacks_columns():
    import numpy as np

    jacobian = np.arange(2 * 2 * 2 * 2, dtype=float).reshape(2, 2, 2, 2)
    vec = arrange(jacobian, (2, 2), (2, 2), "vec")
    assert vec[1, 2] == jacobian[1, 0, 0, 1]  # α = 1 is Y[1,0]; β = 2 is X[0,1]


def stand_in_pool(**options) -> WorkerPool:
    return WorkerPool(command=STAND_IN_COMMAND, **{"reserve": 0, **options})


def test_a_job_past_its_deadline_is_408_and_its_worker_is_replaced():
    async def scenario():
        pool = stand_in_pool(size=1, timeout=0.5)
        await pool.start()
        try:
            first = await pool.run("diff", {"expression": "fast"})
            slow = await pool.run("diff", {"expression": "slow"})
            after = await pool.run("diff", {"expression": "fast"})
        finally:
            await pool.close()
        return first, slow, after

    first, slow, after = asyncio.run(scenario())
    assert slow[0] == 408 and "stopped" in slow[1]["error"]
    assert after[0] == 200
    assert after[1]["pid"] != first[1]["pid"]  # a fresh process took the killed one's place


def test_when_every_worker_is_busy_a_request_waits_then_gets_503():
    async def scenario():
        pool = stand_in_pool(size=1, timeout=1.0, queue_timeout=0.2)
        await pool.start()
        try:
            return await asyncio.gather(pool.run("diff", {"expression": "slow"}),
                                        pool.run("diff", {"expression": "fast"}))
        finally:
            await pool.close()

    slow, waiting = asyncio.run(scenario())
    assert slow[0] == 408
    assert waiting[0] == 503


def test_a_cancelled_request_does_not_leave_its_reply_for_the_next_one():
    async def scenario():
        pool = stand_in_pool(size=1, timeout=5.0)
        await pool.start()
        try:
            task = asyncio.ensure_future(pool.run("diff", {"expression": "slow"}))
            await asyncio.sleep(0.3)
            task.cancel()
            return await pool.run("diff", {"expression": "fast"})
        finally:
            await pool.close()

    status, body = asyncio.run(scenario())
    assert status == 200 and "pid" in body


def test_the_server_answers_while_a_worker_computes(tmp_path):
    app = create_app(workers=2, timeout=1.0, worker_command=STAND_IN_COMMAND)
    with TestClient(app, base_url="http://localhost") as client:
        import threading

        slow = {}
        thread = threading.Thread(target=lambda: slow.update(
            reply=client.post("/api/evaluate", json={"expression": "slow"})))
        thread.start()
        fast = client.post("/api/evaluate", json={"expression": "fast"})
        thread.join()
    assert fast.status_code == 200
    assert slow["reply"].status_code == 408
    assert json.loads(slow["reply"].text)["error"]


def test_the_numerical_check_catches_a_transposed_answer():
    from matdiff.web import numcheck

    class Transposed:  # the chain-rule slip of the first question: the right entries, wrong places
        def __init__(self, derivative):
            self.derivative = derivative

        def evaluate(self, values):
            return self.derivative.evaluate(values).T

    shapes = {"W2": (1, 2), "W1": (2, 2), "h": (2,)}
    right = matdiff.diff("W2*W1*h", wrt="W1", shapes=shapes, layout="numerator")
    assert numcheck.check("W2*W1*h", ["W1"], "numerator", right, shapes)["status"] == "passed"
    wrong = numcheck.check("W2*W1*h", ["W1"], "numerator", Transposed(right), shapes)
    assert wrong["status"] == "failed"


def test_the_reply_cache_is_bounded_in_bytes():
    from matdiff.web.server import ReplyCache

    cache = ReplyCache(max_bytes=1000)
    for i in range(10):
        cache.put(f"request {i}", 200, b"x" * 50)
    cache.get("request 0")  # recently used: kept
    cache.put("big", 200, b"x" * 1000)  # over a sixteenth of the budget: not cached
    for i in range(10, 22):
        cache.put(f"request {i}", 200, b"x" * 50)
    assert cache.size <= 1000
    assert cache.get("big") is None
    assert cache.get("request 0") is not None and cache.get("request 1") is None


def test_bold_letters_render_as_bold_characters():
    """Chromium's MathML ignores mathvariant="bold": the ones vector 𝟏₃ read as a plain 1 (issue 16)."""
    markup = mathml(r"b\,\mathbf{1}_{3} + \mathbf{Ax}")
    assert "<mn>𝟏</mn>" in markup and "<mi>𝐀</mi><mi>𝐱</mi>" in markup and "bold" not in markup
