"""The OpenAPI 3.1 description of the JSON API, served at ``/openapi.json``.

Written out by hand rather than generated: the API is small, and a reader (or a
client generator) gets the exact contract of :mod:`matdiff.web.server` in one place.
It is precise enough to fuzz from (``tests/test_server_fuzz.py``, ``bench/fuzz_api.py``):
a request valid by this description passes :mod:`matdiff.web.fields`, and every
reply, errors included, matches its schema here.
"""

from __future__ import annotations

from typing import Any

from matdiff.api import DERIVATIVE_JSON
from matdiff.language.assumptions import STRUCTURES
from matdiff.web.jobs import DIFF_FIELDS

from matdiff.web.fields import (
    LAYOUTS, MAX_BODY_BYTES, MAX_DIMENSION, MAX_EXPRESSION_CHARS, MAX_NAMES, MAX_ORDER, PAGE_SECTIONS, SECTIONS,
    TARGETS,
)

NAME = "^[A-Za-z_][A-Za-z0-9_]{0,63}$"
WRT_LIST = "^[ ,]*{name}([ ,]+{name}){{0,{more}}}[ ,]*$".format(name="[A-Za-z_][A-Za-z0-9_]{0,63}", more=MAX_ORDER - 1)
SIZE = f"([1-9][0-9]{{0,5}}|{MAX_DIMENSION})"  # 1 to MAX_DIMENSION, as text
STRING_DIM = f"({SIZE}|[A-Za-wyz_][A-Za-wyz0-9_]{{0,31}})"  # in "3x4" and "n x m": names hold no x
SCALAR = "[Ss][Cc][Aa][Ll][Aa][Rr]|\\(\\)"
LARGEST = 1.7976931348623157e308  # a float's largest finite value
ERRORS = {  # status: when; every one answers an Error object
    "400": "bad input: a one-line message and where it applies",
    "403": "the request came from another web site, or named this server by a foreign host name",
    "408": "the computation, or the request body, took too long and was stopped",
    "413": "the request body is too large",
    "415": "the request body was not sent as application/json",
    "429": "this client has too many requests running or waiting already",
    "503": "the server is busy; retry after a moment",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _post(summary: str, request: str, reply: str, *, optional_feature: bool = False, **extra) -> dict:
    responses = {"200": {"description": "the result", **_json(_ref(reply))},
                 **{status: {"description": text, **_json(_ref("Error"))} for status, text in ERRORS.items()}}
    if optional_feature:
        responses["501"] = {"description": "this version of the engine does not offer it", **_json(_ref("Error"))}
    if "parameters" in extra:
        responses["404"] = {"description": "no such section", **_json(_ref("Error"))}
    return {"post": {"summary": summary, "requestBody": {"required": True, **_json(_ref(request))},
                     "responses": responses, **extra}}


def _get(summary: str, reply: dict | None = None) -> dict:
    ok = {"description": summary, **(_json(reply) if reply else {})}
    return {"get": {"summary": summary, "responses": {
        "200": ok, "403": {"description": ERRORS["403"], **_json(_ref("Error"))}}}}


def openapi() -> dict:
    expression = {"type": "string", "minLength": 1, "maxLength": MAX_EXPRESSION_CHARS, "pattern": r"\S",
                  "description": "a program in the input language; statements separated by ; or "
                                 "newlines", "example": "W2*W1*h"}
    name = {"type": "string", "pattern": NAME}
    dim = {"oneOf": [{"type": "integer", "minimum": 1, "maximum": MAX_DIMENSION},
                     {"type": "string", "pattern": f"^({SIZE}|[A-Za-z_][A-Za-z0-9_]{{0,31}})$"}]}
    shape = {"oneOf": [{"type": "array", "items": dim, "maxItems": 2},
                       {"type": "integer", "minimum": 1, "maximum": MAX_DIMENSION},
                       {"type": "string", "example": "3x4",
                        "pattern": f"^ *({SCALAR}|{STRING_DIM}( *[x×*,] *{STRING_DIM})?)? *$"}],
             "description": "[] scalar, [n] column vector, [m, n] matrix; or \"3x4\", \"n\", \"scalar\""}
    names_object = {"type": "object", "maxProperties": MAX_NAMES, "propertyNames": name}
    number = {"type": "number", "minimum": -LARGEST, "maximum": LARGEST}
    derivative_request: dict[str, Any] = {
        "type": "object",
        "required": ["expression", "wrt"],
        "properties": {
            "expression": expression,
            "wrt": {"oneOf": [{"type": "string", "pattern": WRT_LIST},
                              {"type": "array", "items": name, "minItems": 1, "maxItems": MAX_ORDER}],
                    "description": "the variable, or a list of them for a higher derivative; a string may "
                                   "also list them separated by commas", "example": "W1"},
            "shapes": {**names_object, "additionalProperties": shape,
                       "example": {"W2": [1, 2], "W1": [2, 2], "h": [2]}},
            "layout": {"type": "string", "enum": list(LAYOUTS), "default": "numerator"},
            "assume": {**names_object, "additionalProperties": {"type": "string", "enum": list(STRUCTURES)},
                       "description": "the structure of some inputs: symmetric, spd, diagonal or positive", "example": {"S": "symmetric"}},
        },
    }
    math = {"type": ["object", "null"], "properties": {
        "text": {"type": ["string", "null"]}, "latex": {"type": ["string", "null"]},
        "mathml": {"type": ["string", "null"], "description": "MathML of the LaTeX, or null if it has none"},
        "shape": {"type": "array", "items": dim}, "error": {"type": "string"}}}
    derivative_fields = derivative_request["properties"]
    return {
        "openapi": "3.1.0",
        "info": {"title": "matdiff", "version": "0.1.0",
                 "description": "Matrix calculus that gets the shapes right. Request bodies are limited to "
                                f"{MAX_BODY_BYTES} bytes and must be sent as application/json; each "
                                "request's computation is bounded in time and stops when its client leaves."},
        "paths": {
            "/": _get("the web page; its query (expr, wrt, layout, shapes) is a permalink"),
            "/openapi.json": _get("this description", {"type": "object"}),
            "/api/capabilities": _get("the optional features this engine offers, layouts, functions, limits",
                                      _ref("Capabilities")),
            "/api/variables": _post("the input variables of an expression with their (inferred) shapes",
                                    "VariablesRequest", "Variables"),
            "/api/diff": _post("the derivative, in the chosen layout", "DiffRequest", "Derivative"),
            "/api/diff/{section}": _post(
                "one section of a derivative's page on its own, computed only when asked: {section: …}",
                "DerivativeRequest", "Section", optional_feature=True,
                parameters=[{"name": "section", "in": "path", "required": True,
                             "schema": {"type": "string", "enum": list(PAGE_SECTIONS)}}]),
            "/api/gradients": _post("every gradient of a scalar program, from one backward pass",
                                    "GradientsRequest", "Gradients"),
            "/api/evaluate": _post("the numeric value of an expression", "EvaluateRequest", "Value"),
            "/api/explain": _post("the chain rule step by step, with the shape of every factor",
                                  "ExplainRequest", "Any", optional_feature=True),
            "/api/check": _post("is a claimed derivative right? if not, why", "CheckRequest", "Any",
                                optional_feature=True),
            "/api/entries": _post("the derivative componentwise, for small concrete shapes",
                                  "DerivativeRequest", "Any", optional_feature=True),
            "/api/codegen": _post("source of a function computing the derivative", "CodegenRequest", "Code",
                                  optional_feature=True),
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error", "position"], "properties": {
                "error": {"type": "string", "description": "one line, in the user's terms"},
                "position": {"type": ["integer", "null"], "description": "0-based offset into the expression"},
                "caret": {"type": ["string", "null"], "description": "the offending line with a caret under it"}}},
            "DerivativeRequest": derivative_request,
            "DiffRequest": {**derivative_request, "properties": {
                **derivative_fields,
                "include": {"type": "array", "items": {"type": "string", "enum": list(SECTIONS)},
                            "default": ["check"],
                            "description": "optional parts of the reply; absent features are left out"},
                "index": {"type": "boolean", "default": True,
                          "description": "false: no index form (\"index\": null), for a page that asks "
                                         "/api/diff/index only when it shows it"}}},
            "ExplainRequest": {**derivative_request, "properties": {
                **derivative_fields, "verbose": {"type": "boolean", "default": False,
                                                 "description": "every operation, the contractions and the "
                                                                "index forms, not only the user's statements"}}},
            "CheckRequest": {**derivative_request, "required": ["expression", "wrt", "claim"],
                             "properties": {**derivative_fields, "claim": expression}},
            "CodegenRequest": {**derivative_request, "properties": {
                **derivative_fields, "target": {"type": "string", "enum": list(TARGETS), "default": "numpy"},
                "check": {"type": "boolean", "default": False,
                          "description": "a runnable script: value, derivative and a finite-difference check"}}},
            "GradientsRequest": {"type": "object", "required": ["expression"], "properties": {
                "expression": expression, "shapes": derivative_fields["shapes"], "assume": derivative_fields["assume"],
                "inputs": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                           "description": "the inputs whose gradients are wanted (default: every input)",
                           "example": ["W2", "W3"]}}},
            "Gradients": {"type": "object", "required": ["text", "latex", "gradients"], "properties": {
                "text": {"type": ["string", "null"], "description": "the backward pass as one program: "
                                                                    "a2 = …; dz3 = …; dW3 = dz3*a2'; …"},
                "latex": {"type": "string"}, "mathml": {"type": ["string", "null"]},
                "layout": {"type": "string", "enum": ["gradient"]},
                "gradients": {"type": "object", "description": "by input: its gradient's name in text "
                                                               "(dW3), text, latex, index, shape, notes",
                              "additionalProperties": {"type": "object"}}}},
            "VariablesRequest": {"type": "object", "required": ["expression"], "properties": {
                "expression": expression, "shapes": derivative_fields["shapes"], "assume": derivative_fields["assume"]}},
            "EvaluateRequest": {"type": "object", "required": ["expression"], "properties": {
                "expression": {**expression, "example": "A*x"}, "shapes": derivative_fields["shapes"],
                "assume": derivative_fields["assume"],
                "values": {**names_object, "additionalProperties": {
                    "oneOf": [number, {"type": "array", "items": number},
                              {"type": "array", "items": {"type": "array", "items": number}}],
                    "description": "a number, a list of numbers or a list of rows"},
                    "example": {"A": [[1, 2], [3, 4]], "x": [1, 1]}}}},
            "Derivative": {"type": "object", "required": ["text", "latex", "index", "shape", "layout"],
                           "properties": {
                **{name: {**schema, "description": meaning} for name, (schema, meaning) in DERIVATIVE_JSON.items()
                   if name in DIFF_FIELDS},  # Derivative.to_dict's own fields, described once (api.py)
                "shape": {"type": "array", "items": dim, "description": DERIVATIVE_JSON["shape"][1]},
                "mathml": {"type": ["string", "null"], "description": "MathML of the LaTeX"},
                "variables": {"type": "array", "items": _ref("Variable")},
                "check": {"type": "object", "description": "against central finite differences", "properties": {
                    "status": {"type": "string", "enum": ["passed", "failed", "skipped"]},
                    "max_error": {"type": "number"}, "reason": {"type": ["string", "null"]},
                    "sizes": {"type": "object", "description": "the size given to each symbolic dimension",
                              "additionalProperties": {"type": "integer"}}}},
                "vec": math,
                "equation": {"type": "object", "description": "the answer with its left-hand side, ∂y/∂W1 = …",
                             "properties": {"latex": {"type": "string"}, "mathml": {"type": ["string", "null"]}}},
                "question": {"type": "object", "description": "the expression as sent, as math",
                             "properties": {"latex": {"type": "string"}, "mathml": {"type": ["string", "null"]}}},
                "explain": _ref("Any"), "entries": _ref("Any"),
                "code": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "Section": {"type": "object", "minProperties": 1, "maxProperties": 1,
                        "propertyNames": {"enum": list(PAGE_SECTIONS)},
                        "description": "the section by its name, e.g. {\"index\": \"…\"}; null when it does not "
                                       "apply (vec of a result in vec layout)"},
            "Variable": {"type": "object", "properties": {
                "name": {"type": "string"}, "shape": {"type": ["array", "null"], "items": dim},
                "given": {"type": "boolean"}}},
            "Variables": {"type": "object", "properties": {
                "variables": {"type": "array", "items": _ref("Variable")},
                "problem": {"oneOf": [_ref("Error"), {"type": "null"}]}}},
            "Value": {"type": "object", "properties": {"value": {}, "shape": {"type": "array"}}},
            "Code": {"type": "object", "properties": {"target": {"type": "string"}, "code": {"type": "string"}}},
            "Capabilities": {"type": "object", "properties": {
                "explain": {"type": "boolean"}, "check": {"type": "boolean"}, "entries": {"type": "boolean"},
                "codegen": {"type": "boolean"}, "layouts": {"type": "array"}, "sections": {"type": "array"},
                "functions": {"type": "array", "items": {"type": "string"}},
                "limits": {"type": "object"}}},
            "Any": {"description": "the engine's result as JSON; strings with LaTeX come with their MathML"},
        }},
    }
