"""LaTeX to MathML for the page, which renders it natively: checked to be well-formed MathML
elements and presentation attributes only, since latex2mathml copies some input through unescaped."""

from __future__ import annotations

import re
from xml.etree import ElementTree


def with_mathml(value):
    """Beside every "latex" string in a result, its MathML, so the page never sees raw LaTeX."""
    if isinstance(value, list):
        return [with_mathml(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: with_mathml(v) for k, v in value.items()}
    if isinstance(value.get("latex"), str):
        out["mathml"] = mathml(value["latex"])
    return out


MATHML = "http://www.w3.org/1998/Math/MathML"
MATHML_ELEMENTS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac",
    "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded",
    "mphantom", "menclose", "merror", "mmultiscripts", "mprescripts", "none",
}
MATHML_ATTRIBUTES = {
    "display", "mathvariant", "stretchy", "fence", "form", "width", "height", "depth", "lspace", "rspace",
    "accent", "accentunder", "columnalign", "rowalign", "columnlines", "rowlines", "columnspacing",
    "rowspacing", "frame", "linethickness", "displaystyle", "scriptlevel", "separator", "movablelimits",
    "largeop", "symmetric", "minsize", "maxsize", "notation", "align",
}


_DOUBLE_SUBSCRIPT = re.compile(r"_\{([^{}]*)\}_\{([^{}]*)\}")
_BOLD = re.compile(r"\\mathbf\{([A-Za-z0-9]+)\}")


def _bold_characters(match: re.Match) -> str:
    """\\mathbf{1} as the character 𝟏 (U+1D7CF): Chromium (MathML Core) ignores mathvariant="bold", so the
    ones vector would read as a plain 1 (b·𝟏₃ as "b1₃")."""
    def bold(c: str) -> str:
        if c.isdigit():
            return chr(0x1D7CE + int(c))
        return chr((0x1D400 if c.isupper() else 0x1D41A) + ord(c.lower()) - ord("a"))
    return "".join(bold(c) for c in match.group(1))


def mathml(latex: str | None) -> str | None:
    """MathML for the browser to render natively, or None (the page then shows the LaTeX).

    latex2mathml does not escape everything it copies from its input (``\\text{<b>}``
    comes out as a raw tag), so its output is parsed and allowed through only when it
    is well-formed and made of MathML elements and presentation attributes alone.
    It also lacks the ``aligned`` environment (the engine's multi-line derivations),
    which means the same as its ``align*`` here, and refuses a double subscript such as
    the engine's ``W_{2}_{ij}`` (entry ij of W2), written ``W_{2,ij}`` for it instead.
    """
    if not latex:
        return None
    try:
        from latex2mathml.converter import convert

        latex = latex.replace(r"\begin{aligned}", r"\begin{align*}").replace(r"\end{aligned}", r"\end{align*}")
        latex = _DOUBLE_SUBSCRIPT.sub(r"_{\1,\2}", latex)
        latex = _BOLD.sub(_bold_characters, latex)
        markup = convert(latex, display="block")
        root = ElementTree.fromstring(markup)
    except Exception:  # noqa: BLE001 - latex2mathml fails in many ways; the page then shows the LaTeX
        return None
    for element in root.iter():
        namespace, _, tag = element.tag.rpartition("}")
        if namespace != "{" + MATHML or tag not in MATHML_ELEMENTS:
            return None
        if any(attribute not in MATHML_ATTRIBUTES for attribute in element.attrib):
            return None
    return markup
