"""The JSON fields of the API's requests, each parsed and checked in one place.

Every field has one parser in :data:`PARSERS`; an endpoint names the fields it
takes (:data:`matdiff.web.server.ENDPOINTS`) and :func:`parse` runs their parsers.
A new field is one function here and its name in those lists.

Whatever a request holds, a bad one ends here as :class:`BadRequest` (HTTP 400 with
``{"error", "position"}``), never as a Python exception deeper down: the checks
cover JSON types, unpaired surrogates (not Unicode, so not printable in a reply),
digits outside ASCII (``int("²")`` fails), and numbers past what a float holds.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable

from matdiff.engine.layout import LAYOUTS
from matdiff.errors import MatdiffError
from matdiff.language.assumptions import STRUCTURES
from matdiff.language.shapes import shape_from_text

MAX_BODY_BYTES = 20_000
MAX_EXPRESSION_CHARS = 4_000
MAX_NAMES = 64  # shapes or values given in one request
MAX_ORDER = 3  # entries of wrt
MAX_DIMENSION = 1_000_000
SECTIONS = ("check", "vec", "explain", "entries", "code")  # the optional parts of a /api/diff reply
PAGE_SECTIONS = ("index", *SECTIONS)  # each also its own request: POST /api/diff/{section}
TARGETS = ("numpy", "jax", "torch")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
DIMENSION = re.compile(r"[1-9][0-9]{0,6}")  # ASCII digits only: "²".isdigit() is True, int("²") fails
SURROGATE = re.compile(r"[\ud800-\udfff]")


class BadRequest(Exception):
    """A request the server refuses before any engine work: HTTP ``status`` with a JSON error."""

    def __init__(self, message: str, *, status: int = 400, position: int | None = None):
        super().__init__(message)
        self.message, self.status, self.position = message, status, position


def decode(body: bytes) -> dict:
    """The body as a JSON object whose every string is real Unicode."""
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    _refuse_surrogates(data)
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _refuse_surrogates(data: dict) -> None:
    """JSON may spell ``"\\ud800"``, which no UTF-8 reply can carry: refuse it in keys and values.

    Iterative, so a body nested as deep as the JSON parser allows costs no recursion.
    """
    stack: list[tuple[str, object]] = [(key, value) for key, value in data.items()]
    while stack:
        field, value = stack.pop()
        for text in (field, value) if isinstance(value, str) else (field,):
            found = SURROGATE.search(text)
            if found:
                position = found.start() if text is value and field in ("expression", "claim") else None
                raise BadRequest(f"'{field[:40].encode('utf-8', 'replace').decode()}' holds an unpaired "
                                 "surrogate, which is not a character", position=position)
        if isinstance(value, dict):
            stack.extend(value.items())
        elif isinstance(value, list):
            stack.extend((field, item) for item in value)


# ----- one parser per field ------------------------------------------------------------------------


def expression_of(body: dict, field: str = "expression") -> str:
    text = body.get(field)
    if not isinstance(text, str) or not text.strip():
        raise BadRequest(f"'{field}' must be a non-empty string")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise BadRequest(f"'{field}' is {len(text)} characters long; the limit is {MAX_EXPRESSION_CHARS}",
                         position=MAX_EXPRESSION_CHARS)
    return text


def claim_of(body: dict) -> str:
    return expression_of(body, "claim")


def wrt_of(body: dict) -> list[str]:
    """'W1', 'x, y' or ["x", "y"]: the variable(s), in order (two or three for higher derivatives)."""
    return _variables(body.get("wrt"), "wrt", MAX_ORDER)


def inputs_of(body: dict) -> list[str] | None:
    """For /api/gradients: the inputs whose gradients are wanted, written as 'wrt' is (any number
    of them); absent or null: every input."""
    inputs = body.get("inputs")
    return None if inputs is None else _variables(inputs, "inputs", MAX_NAMES)


def _variables(value, field: str, most: int) -> list[str]:
    if isinstance(value, str):
        value = [w for w in re.split(r"[ ,]+", value) if w]
    if not isinstance(value, list) or not 1 <= len(value) <= most:
        raise BadRequest(f"'{field}' must name one to {most} variables, e.g. \"W1\" or [\"x\", \"y\"]")
    for name in value:
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise BadRequest(f"'{field}' holds {_shown(name)}, which is not a variable name")
    return value


def layout_of(body: dict) -> str:
    return _choice(body, "layout", LAYOUTS, "numerator")


def target_of(body: dict) -> str:
    return _choice(body, "target", TARGETS, "numpy")


def include_of(body: dict) -> list[str]:
    include = body.get("include", ["check"])
    if not isinstance(include, list) or not all(isinstance(p, str) and p in SECTIONS for p in include):
        raise BadRequest(f"'include' must be a list of sections among {', '.join(SECTIONS)}")
    return include


def index_of(body: dict) -> bool:
    """Whether a /api/diff reply carries the index form (default yes); a page that shows it on
    demand says false and asks /api/diff/index when the reader opens it."""
    index = body.get("index", True)
    if not isinstance(index, bool):
        raise BadRequest("'index' must be true or false")
    return index


def check_of(body: dict) -> bool:
    """Whether /api/codegen gives the runnable script with its finite-difference check (default no)."""
    check = body.get("check", False)
    if not isinstance(check, bool):
        raise BadRequest("'check' must be true or false")
    return check


def verbose_of(body: dict) -> bool:
    """Whether /api/explain shows every operation, the contractions and the index forms (default no)."""
    verbose = body.get("verbose", False)
    if not isinstance(verbose, bool):
        raise BadRequest("'verbose' must be true or false")
    return verbose


def shapes_of(body: dict) -> dict:
    """{"A": [3, 4], "x": [4], "s": [], "B": "m x n"}: each shape as a list of ints and names."""
    shapes = _names_object(body, "shapes", 'e.g. {"A": [3, 4]}')
    return {name: shape_of(name, shape) for name, shape in shapes.items()}


def shape_of(name: str, shape) -> list:
    if isinstance(shape, str):  # the page's and the CLI's spelling: "3x4", "n", "scalar"
        try:
            shape = list(shape_from_text(shape))
        except (MatdiffError, ValueError) as error:  # ValueError: int() of more than 4,300 digits
            raise BadRequest(f"the shape of {name}: {getattr(error, 'message', 'a dimension is too long')}") from None
    elif isinstance(shape, (int, float)) and not isinstance(shape, bool):
        shape = [shape]
    if not isinstance(shape, list) or len(shape) > 2:
        raise BadRequest(f"the shape of {name} must be like [3, 4], [4], [] or \"3x4\"")
    dims = []
    for d in shape:
        if isinstance(d, str) and DIMENSION.fullmatch(d) or isinstance(d, float) and d.is_integer():
            d = int(d)  # JSON Schema counts 3.0 as an integer
        number = isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_DIMENSION
        if number or (isinstance(d, str) and NAME.fullmatch(d) and len(d) <= 32):
            dims.append(d)
        else:
            raise BadRequest(f"the shape of {name} has {_shown(d, 20)}: a dimension is a positive "
                             f"integer up to {MAX_DIMENSION} or a name")
    return dims


def assume_of(body: dict) -> dict:
    """{"S": "symmetric", "x": "positive"}: the structure of some inputs (symmetric, spd, diagonal, positive), optional."""
    return _names_object(body, "assume", 'e.g. {"S": "symmetric"}', _structure_problem)


def _structure_problem(name: str, structure) -> str | None:
    if not isinstance(structure, str) or structure not in STRUCTURES:
        return f"'assume' gives {name} the structure {_shown(structure)}; choose one of {', '.join(STRUCTURES)}"
    return None


def values_of(body: dict) -> dict:
    """{"A": [[1, 2], [3, 4]], "x": [1, 2], "s": 3}: finite numbers, vectors and matrices only."""
    return _names_object(body, "values", 'e.g. {"x": [1, 2]}', _value_problem)


def _value_problem(name: str, value) -> str | None:
    rows = value if isinstance(value, list) else [value]
    cells = [c for row in rows for c in (row if isinstance(row, list) else [row])]
    if not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in cells):
        return f"the value of {name} must be a number, a list of numbers or a list of rows"
    if not all(_finite(c) for c in cells):
        return f"the value of {name} holds a number too large for a 64-bit float"
    return None


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)  # an int past 1.8e308 raises OverflowError here
    except OverflowError:
        return False


def _choice(body: dict, field: str, choices: tuple[str, ...], default: str) -> str:
    value = body.get(field, default)
    if not isinstance(value, str) or value not in choices:
        raise BadRequest(f"'{field}' must be one of {', '.join(choices)}")
    return value


def _names_object(body: dict, field: str, example: str, problem=None) -> dict:
    """An object keyed by variable names (absent or null: empty); ``problem(name, entry)`` says
    what is wrong with an entry, or None: the first problem is the answer."""
    value = body.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_NAMES:
        raise BadRequest(f"'{field}' must be an object of at most {MAX_NAMES} names, {example}")
    for name in value:
        if not NAME.fullmatch(name):
            raise BadRequest(f"'{field}' has {_shown(name)}, which is not a variable name")
    for name, entry in value.items():
        said = problem(name, entry) if problem else None
        if said:
            raise BadRequest(said)
    return value


def _shown(value, limit: int = 40) -> str:
    return json.dumps(value)[:limit]


PARSERS: dict[str, Callable[[dict], object]] = {
    "expression": expression_of,
    "wrt": wrt_of,
    "inputs": inputs_of,
    "shapes": shapes_of,
    "layout": layout_of,
    "include": include_of,
    "index": index_of,
    "target": target_of,
    "check": check_of,
    "claim": claim_of,
    "values": values_of,
    "assume": assume_of,
    "verbose": verbose_of,
}
DERIVATIVE = ("expression", "wrt", "shapes", "layout", "assume")  # the fields of every derivative request


def parse(body: dict, fields: Iterable[str]) -> dict:
    """The named fields of a request body, each checked by its parser."""
    return {field: PARSERS[field](body) for field in fields}
