"""What the web app computes, run inside a worker process (:mod:`matdiff.web.worker`).

Each job takes the request's validated JSON payload and returns a JSON-ready dict;
:func:`run` maps the outcome to an HTTP status: 200, 400 for a :class:`MatdiffError`
(message, position, caret), 501 for a feature this version of the engine lacks,
500 for an engine bug (traceback to the log, never to the user).

Everything goes through the public engine API. Optional features (``explain``,
``check``, ``entries``, ``Derivative.code``) are looked up when a job runs, so the
page grows new sections as the engine grows, with no change here.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

import matdiff as md
from matdiff.engine.lowering import FUNCTION_NAMES
from matdiff.engine.numeric import as_float_array
from matdiff.web import numcheck
from matdiff.web.mathml import mathml, with_mathml

TARGETS = ("numpy", "jax", "torch")
MAX_ENTRIES_SHOWN = 64  # componentwise entries only for results this small
SCALAR_LETTERS = "abcdefg"  # undeclared names starting with these are scalars, as on matrixcalculus.org (h–z vectors, A–Z matrices)



def feature(name: str):
    """matdiff's ``name`` (explain, check, entries...) or None while the engine lacks it.

    matdiff loads these lazily, so a missing one may show up as an ImportError, not
    only as a missing attribute.
    """
    try:
        return getattr(md, name, None)
    except ImportError:
        return None


def has_code() -> bool:
    return hasattr(md.Derivative, "code")


class NotAvailable(Exception):
    """A feature this version of the engine does not provide (HTTP 501)."""


MAX_REPLY_CHARACTERS = 8 << 20  # JSON characters in one reply
MAX_VALUE_ENTRIES = 1_000_000  # entries of an evaluated value the API returns


def run(kind: str, payload: dict) -> tuple[int, dict]:
    job = JOBS.get(kind)
    if job is None:
        return 404, {"error": f"no job {kind!r}"}
    try:
        body = job(**payload)
        size = len(json.dumps(body, separators=(",", ":")))
        if size > MAX_REPLY_CHARACTERS:  # the pool's pipe takes 32 MB; a page could not show this anyway
            return 400, {"error": f"the answer is {size / 2**20:.1f} MB, more than the web API returns "
                                  f"({MAX_REPLY_CHARACTERS / 2**20:.0f} MB): ask for less (fewer sections, no "
                                  "verbose) or use the Python API", "position": None}
        return 200, body
    except md.MatdiffError as error:
        return 400, error_body(error)
    except NotAvailable as missing:
        return 501, {"error": str(missing)}
    except ImportError as missing:  # an optional dependency (sympy for entries) or engine part is absent
        print(f"matdiff worker: {missing}", file=sys.stderr)
        return 501, {"error": "this feature is not available in this version of matdiff"}
    except MemoryError:
        return 400, {"error": "this computation needs more memory than the server allows", "position": None}
    except RecursionError:
        return 400, {"error": "the expression is nested too deeply", "position": None}
    except Exception:  # noqa: BLE001 - an engine bug: logged, and the user gets a one-line 500
        traceback.print_exc(file=sys.stderr)
        return 500, {"error": "internal error in the engine; the details are in the server log"}


def error_body(error) -> dict:
    return {"error": error.message, "position": error.position, "caret": error.caret() or None}


# ----- the jobs -----------------------------------------------------------------------------------


def variables(expression: str, shapes: dict, assume: dict | None = None) -> dict:
    """Every input variable with its shape: declared, else inferred (None if unknown).

    A program that does not typecheck yet (the user is still typing) still lists its
    names, with the problem beside them, so the table never goes blank.
    """
    try:
        inferred, problem = infer(expression, shapes, assume), None
    except md.MatdiffError as error:
        inferred = {name: _tuple(shapes[name]) if name in shapes else None for name in names(expression)}
        problem = error_body(error)
    rows = [
        {"name": name, "shape": None if shape is None else list(shape), "given": name in shapes,
         "assume": (assume or {}).get(name)}
        for name, shape in inferred.items()
    ]
    if problem is None:
        for row in rows:
            if not row["given"] and row["shape"] == [] and row["name"][0] in SCALAR_LETTERS:
                row["could_be"] = _as_vector(expression, shapes, row["name"])
    return {"variables": rows, "problem": problem}


def _as_vector(expression: str, shapes: dict, name: str) -> list | None:
    """The bias trap: an undeclared ``b`` in ``W*x + b`` is a scalar only by the naming rule (a–g).
    The vector shape it could have instead (so the answer depends on that rule), or None.

    Tried with each length the declared shapes mention, then a symbolic one; that one is given the
    name the same dimension has without the trial (b's length is then W's n, as the table shows it).
    """
    lengths = sorted({d for shape in shapes.values() for d in shape if isinstance(d, int)})
    probe = f"n_{name}"
    for length in [*lengths, probe]:
        try:
            trial = infer(expression, {**shapes, name: [length]})
        except md.MatdiffError:
            continue
        if length != probe:
            return [length]
        usual = infer(expression, shapes)
        same = {d: u for other, dims in trial.items() if other != name and usual.get(other) is not None
                for d, u in zip(dims, usual[other])}
        return [same.get(probe, probe)]
    return None


DIFF_FIELDS = ("text", "latex", "equation", "index", "shape", "layout", "notes", "assume")
"""The fields of ``Derivative.to_dict`` in /api/diff's reply (the vec form and the rest are sections)."""


def diff(expression: str, wrt: list[str], shapes: dict, layout: str, include: list[str],
         index: bool = True, assume: dict | None = None) -> dict:
    """The derivative and, as asked in ``include``, the sections of the page around it.

    ``index=False`` leaves the index form out (``"index": null``): for long programs it
    costs more than the rest, and a page that shows it on demand asks :func:`section`.
    """
    derivative = md.diff(expression, wrt=_wrt(wrt), shapes=_shapes(shapes), layout=layout, assume=assume)
    body: dict[str, Any] = {"expression": expression, "wrt": wrt,
                            **derivative.to_dict(f for f in DIFF_FIELDS if index or f != "index")}
    body["index"] = body.get("index")  # null when left out
    body["mathml"] = mathml(body["latex"])  # the page shows MathML: the browser renders it natively
    body["equation"] = {"latex": body["equation"], "mathml": mathml(body["equation"])}
    body["question"] = _question(derivative)
    inputs = _inputs_or_none(expression, shapes, assume)
    if inputs is not None:
        body["variables"] = [{"name": n, "shape": None if s is None else list(s)} for n, s in inputs.items()]
    request = {"expression": expression, "wrt": wrt, "shapes": shapes, "layout": layout, "assume": assume}
    for name in include:
        part = _section(lambda: SECTIONS[name](request, lambda: derivative))
        if part is not None:
            body[name] = part
    return body


def _question(derivative) -> dict:
    """The user's program as math, in the user's own operators (notation/source.py)."""
    from matdiff.notation.source import program_latex

    latex = program_latex(derivative.program)
    return {"latex": latex, "mathml": mathml(latex)}


def section(expression: str, wrt: list[str], shapes: dict, layout: str, name: str,
            assume: dict | None = None) -> dict:
    """One section of a derivative's page on its own (``/api/diff/NAME``): ``{NAME: ...}``.

    Its own request, so a slow section holds a worker only while the reader waits for
    it, and is stopped when the page moves on (see :mod:`matdiff.web.pool`).
    """
    request = {"expression": expression, "wrt": wrt, "shapes": shapes, "layout": layout, "assume": assume}
    derivative = functools.cache(lambda: md.diff(expression, wrt=_wrt(wrt), shapes=_shapes(shapes), layout=layout,
                                                 assume=assume))
    return {name: SECTIONS[name](request, derivative)}


SECTIONS: dict[str, Callable[[dict, Callable[[], Any]], Any]] = {  # (request, derivative) -> JSON
    "index": lambda request, derivative: derivative().index,
    "vec": lambda request, derivative: (  # None: the result is in vec layout already
        _vec_form(request["expression"], request["wrt"], request["shapes"], request["assume"])
        if request["layout"] != "vec" else None),
    "check": lambda request, derivative: numcheck.check(
        request["expression"], request["wrt"], request["layout"], derivative(),
        _inputs_or_none(request["expression"], request["shapes"], request["assume"]) or {},
        assume=derivative().assume, convention=derivative().convention),
    "entries": lambda request, derivative: entries(**request),
    "explain": lambda request, derivative: explain(**request),
    "code": lambda request, derivative: {target: _code(derivative(), target) for target in TARGETS},
}


def gradients(expression: str, inputs: list[str] | None, shapes: dict, assume: dict | None = None) -> dict:
    """Every gradient of a scalar program from one backward pass, one entry per input."""
    found = md.gradients(expression, shapes=_shapes(shapes), wrt=None if inputs is None else tuple(inputs),
                         assume=assume)
    body = found.to_dict()
    body["mathml"] = mathml(body["latex"])
    return body


def evaluate(expression: str, values: dict, shapes: dict, assume: dict | None = None) -> dict:
    arrays = {name: as_float_array(name, value) for name, value in values.items()}
    arguments = {name: float(a) if a.ndim == 0 else a for name, a in arrays.items()}
    value = np.asarray(md.evaluate(expression, arguments, shapes=_shapes(shapes), assume=assume), dtype=float)
    if value.size > MAX_VALUE_ENTRIES:
        raise md.LimitError(f"the value has {value.size:,} entries, more than the web API returns "
                            f"({MAX_VALUE_ENTRIES:,}); use the Python API for it")
    return {"value": _finite_json(value), "shape": list(value.shape)}


def explain(expression: str, wrt: list[str], shapes: dict, layout: str, assume: dict | None = None,
            verbose: bool = False) -> dict:
    explain = _feature("explain")
    return report(explain(expression, wrt=_wrt(wrt), shapes=_shapes(shapes), layout=layout, assume=assume,
                          verbose=verbose))


def check(expression: str, wrt: list[str], shapes: dict, layout: str, claim: str, assume: dict | None = None) -> dict:
    check = _feature("check")
    return report(check(expression, wrt=_wrt(wrt), claim=claim, shapes=_shapes(shapes), layout=layout,
                        assume=assume))


def entries(expression: str, wrt: list[str], shapes: dict, layout: str, assume: dict | None = None) -> dict:
    entries = _feature("entries")
    inputs = infer(expression, shapes, assume)
    sizes = [np.prod(s) for s in inputs.values() if s is not None and all(isinstance(d, int) for d in s)]
    if len(sizes) != len(inputs) or sum(sizes) > MAX_ENTRIES_SHOWN:
        return {"skipped": f"componentwise entries are shown for concrete shapes of at most "
                           f"{MAX_ENTRIES_SHOWN} entries in all"}
    return report(entries(expression, wrt=_wrt(wrt), shapes=_shapes(shapes), layout=layout, assume=assume))


def codegen(expression: str, wrt: list[str], shapes: dict, layout: str, target: str,
            assume: dict | None = None, check: bool = False) -> dict:
    """The derivative's function for ``target``; with ``check``, the script that runs and checks it."""
    derivative = md.diff(expression, wrt=_wrt(wrt), shapes=_shapes(shapes), layout=layout, assume=assume)
    if check:
        if not has_code():
            raise NotAvailable("code generation is not available in this version of matdiff")
        return {"target": target, "code": derivative.code(target, check=True), "check": True}
    return {"target": target, "code": _code(derivative, target)}


def _code(derivative, target: str) -> str:
    if not has_code():
        raise NotAvailable("code generation is not available in this version of matdiff")
    return derivative.code(target)


JOBS: dict[str, Callable[..., dict]] = {
    "variables": variables,
    "diff": diff,
    "gradients": gradients,
    "evaluate": evaluate,
    "explain": explain,
    "check": check,
    "entries": entries,
    "codegen": codegen,
    "section": section,
}


# ----- helpers ------------------------------------------------------------------------------------


def infer(expression: str, shapes: dict, assume: dict | None = None) -> dict:
    """{name: shape} of the inputs, through the engine's inference when it offers one."""
    infer_shapes = getattr(md, "infer_shapes", None) or getattr(md.api, "infer_shapes", None)
    if infer_shapes is None:
        return {name: _tuple(shapes[name]) if name in shapes else None for name in names(expression)}
    inferred = infer_shapes(expression, _shapes(shapes), assume=assume)
    order = {name: i for i, name in enumerate(names(expression))}
    return {name: tuple(inferred[name]) for name in sorted(inferred, key=lambda n: order.get(n, len(order)))}


def _inputs_or_none(expression, shapes, assume=None):
    try:
        return infer(expression, shapes, assume)
    except md.MatdiffError:
        return None


_TOKEN = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|#[^\n]*|.", re.DOTALL)
_ASSIGNMENT = re.compile(r"(?:^|[;\n])\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")


def names(expression: str) -> list[str]:
    """Input names in order of first use: identifiers that are neither functions nor assigned."""
    assigned = set(_ASSIGNMENT.findall(expression))
    seen = []
    for match in _TOKEN.finditer(expression):
        word = match.group(0)
        is_name = word[0].isalpha() or word[0] == "_"
        if is_name and word not in FUNCTION_NAMES and word not in assigned and word not in seen:
            seen.append(word)
    return seen


def _wrt(wrt: list[str]):
    return wrt[0] if len(wrt) == 1 else tuple(wrt)


def _tuple(shape) -> tuple:
    return tuple(shape) if isinstance(shape, (list, tuple)) else shape


def _shapes(shapes: dict) -> dict:
    return {name: _tuple(shape) for name, shape in shapes.items()}


def _feature(name: str):
    found = feature(name)
    if found is None:
        raise NotAvailable(f"'{name}' is not available in this version of matdiff")
    return found


def _section(compute) -> dict | None:
    """An optional part of the page: its failure is shown in place and spoils nothing else.

    None (the part is left out) when the engine turns out not to have the feature.
    """
    try:
        return compute()
    except md.MatdiffError as error:
        return {"error": error.message}
    except (NotAvailable, ImportError):
        return None


def _vec_form(expression: str, wrt: list[str], shapes: dict, assume: dict | None = None) -> dict:
    vec = md.diff(expression, wrt=_wrt(wrt), shapes=_shapes(shapes), layout="vec", assume=assume)
    return {"text": vec.text, "latex": vec.latex, "mathml": mathml(vec.latex), "shape": list(vec.shape)}


def _finite_json(value: np.ndarray):
    """Numbers as JSON allows them: NaN and ±inf become the strings "NaN", "Infinity", "-Infinity"."""
    if np.all(np.isfinite(value)):
        return value.tolist()
    as_objects = value.astype(object)
    for index, x in np.ndenumerate(value):
        if not np.isfinite(x):
            as_objects[index] = "NaN" if np.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return as_objects.tolist()


def report(result) -> dict:
    """An engine report (explain, check, entries) as JSON: its styled lines, as the terminal shows
    them, and its structured fields when it offers ``to_dict``."""
    if not callable(getattr(result, "lines", None)):
        plain = _plain(result)
        return with_mathml(plain if isinstance(plain, (dict, list)) else {"text": plain})
    body = _plain(result.to_dict()) if hasattr(result, "to_dict") else {}
    body.pop("text", None)  # the same as the lines
    body["lines"] = [{"text": line.text, "style": line.style, "indent": line.indent} for line in result.lines()]
    return with_mathml(body)


def _plain(value, depth: int = 0):
    """An engine result object as JSON: dataclasses and simple objects by their public fields."""
    if depth > 8:
        return str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else str(value)
    if isinstance(value, (np.ndarray, np.generic)):
        return _finite_json(np.asarray(value, dtype=float))
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if hasattr(value, "to_dict"):
        return _plain(value.to_dict(), depth + 1)
    fields = getattr(value, "__dataclass_fields__", None) or getattr(value, "__dict__", None)
    if fields:
        return {k: _plain(getattr(value, k), depth + 1) for k in fields if not k.startswith("_")}
    return str(value)
