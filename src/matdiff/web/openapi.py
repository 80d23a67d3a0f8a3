"""The OpenAPI 3 description of the JSON API, served at ``/openapi.json``.

Written out by hand rather than generated: the API is small, and a reader (or a
client generator) gets the exact contract of :mod:`matdiff.web.server` in one place.
"""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _post(summary: str, request: str, reply: str, *, optional_feature: bool = False) -> dict:
    responses = {
        "200": {"description": "the result", **_json(_ref(reply))},
        "400": {"description": "bad input: a one-line message and where it applies", **_json(_ref("Error"))},
        "408": {"description": "the computation took too long and was stopped", **_json(_ref("Error"))},
        "413": {"description": "the request body is too large", **_json(_ref("Error"))},
        "503": {"description": "the server is busy; retry after a moment", **_json(_ref("Error"))},
    }
    if optional_feature:
        responses["501"] = {"description": "this version of the engine does not offer it", **_json(_ref("Error"))}
    return {"post": {"summary": summary, "requestBody": {"required": True, **_json(_ref(request))},
                     "responses": responses}}


def openapi(layouts, sections, targets, max_body: int, max_expression: int) -> dict:
    expression = {"type": "string", "minLength": 1, "maxLength": max_expression,
                  "description": "a program in the input language (SPEC §1); statements separated by ; or "
                                 "newlines", "example": "W2*W1*h"}
    dim = {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}]}
    shape = {"oneOf": [{"type": "array", "items": dim, "maxItems": 2}, {"type": "string", "example": "3x4"}],
             "description": "[] scalar, [n] column vector, [m, n] matrix; or \"3x4\", \"n\", \"scalar\""}
    derivative_request: dict[str, Any] = {
        "type": "object",
        "required": ["expression", "wrt"],
        "properties": {
            "expression": expression,
            "wrt": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 3}],
                    "description": "the variable, or a list of them for a higher derivative", "example": "W1"},
            "shapes": {"type": "object", "additionalProperties": shape,
                       "example": {"W2": [1, 2], "W1": [2, 2], "h": [2]}},
            "layout": {"type": "string", "enum": list(layouts), "default": "numerator"},
        },
    }
    math = {"type": "object", "properties": {
        "text": {"type": ["string", "null"]}, "latex": {"type": ["string", "null"]},
        "mathml": {"type": ["string", "null"], "description": "MathML of the LaTeX, or null if it has none"},
        "shape": {"type": "array", "items": dim}, "error": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "matdiff", "version": "0.1.0",
                 "description": "Matrix calculus that gets the shapes right. Request bodies are limited to "
                                f"{max_body} bytes; each request's computation is bounded in time."},
        "paths": {
            "/": {"get": {"summary": "the web page; its query (expr, wrt, layout, shapes) is a permalink",
                          "responses": {"200": {"description": "HTML"}}}},
            "/openapi.json": {"get": {"summary": "this description", "responses": {"200": {"description": "JSON"}}}},
            "/api/capabilities": {"get": {"summary": "the optional features this engine offers, layouts, limits",
                                          "responses": {"200": {"description": "capabilities",
                                                                **_json(_ref("Capabilities"))}}}},
            "/api/variables": _post("the input variables of an expression with their (inferred) shapes",
                                    "VariablesRequest", "Variables"),
            "/api/diff": _post("the derivative, in the chosen layout", "DiffRequest", "Derivative"),
            "/api/evaluate": _post("the numeric value of an expression", "EvaluateRequest", "Value"),
            "/api/explain": _post("the chain rule step by step, with the shape of every factor",
                                  "DerivativeRequest", "Any", optional_feature=True),
            "/api/check": _post("is a claimed derivative right? if not, why", "CheckRequest", "Any",
                                optional_feature=True),
            "/api/entries": _post("the derivative componentwise, for small concrete shapes",
                                  "DerivativeRequest", "Any", optional_feature=True),
            "/api/codegen": _post("source of a function computing the derivative", "CodegenRequest", "Code",
                                  optional_feature=True),
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string", "description": "one line, in the user's terms"},
                "position": {"type": ["integer", "null"], "description": "0-based offset into the expression"},
                "caret": {"type": ["string", "null"], "description": "the offending line with a caret under it"}}},
            "DerivativeRequest": derivative_request,
            "DiffRequest": {"allOf": [derivative_request, {"type": "object", "properties": {
                "include": {"type": "array", "items": {"type": "string", "enum": list(sections)},
                            "default": ["check"],
                            "description": "optional parts of the reply; absent features are left out"}}}]},
            "CheckRequest": {"allOf": [derivative_request, {"type": "object", "required": ["claim"],
                                                            "properties": {"claim": expression}}]},
            "CodegenRequest": {"allOf": [derivative_request, {"type": "object", "properties": {
                "target": {"type": "string", "enum": list(targets), "default": "numpy"}}}]},
            "VariablesRequest": {"type": "object", "required": ["expression"], "properties": {
                "expression": expression, "shapes": derivative_request["properties"]["shapes"]}},
            "EvaluateRequest": {"type": "object", "required": ["expression"], "properties": {
                "expression": expression, "shapes": derivative_request["properties"]["shapes"],
                "values": {"type": "object", "additionalProperties": {
                    "description": "a number, a list of numbers or a list of rows"},
                    "example": {"A": [[1, 2], [3, 4]], "x": [1, 1]}}}},
            "Derivative": {"type": "object", "required": ["text", "latex", "index", "shape", "layout"],
                           "properties": {
                "text": {"type": ["string", "null"], "description": "matrix notation, null if none exists"},
                "latex": {"type": "string"}, "mathml": {"type": ["string", "null"]},
                "index": {"type": "string", "description": "index (Einstein) notation"},
                "shape": {"type": "array", "items": dim}, "layout": {"type": "string"},
                "notes": {"type": "array", "items": {"type": "string"}},
                "variables": {"type": "array", "items": _ref("Variable")},
                "check": {"type": "object", "description": "against central finite differences", "properties": {
                    "status": {"type": "string", "enum": ["passed", "failed", "skipped"]},
                    "max_error": {"type": "number"}, "reason": {"type": ["string", "null"]}}},
                "vec": math,
                "explain": _ref("Any"), "entries": _ref("Any"),
                "code": {"type": "object", "additionalProperties": {"type": "string"}}}},
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
                "codegen": {"type": "boolean"}, "layouts": {"type": "array"}, "limits": {"type": "object"}}},
            "Any": {"description": "the engine's result as JSON; strings with LaTeX come with their MathML"},
        }},
    }
