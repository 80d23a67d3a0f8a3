"""Printing the understanding tools' results: one list of lines, three renderings.

``explain``, ``check`` and ``entries`` return frozen dataclasses holding their
structured data. Each says what to show as a list of :class:`Line` (text, a
style, an indent); this module turns that list into plain text (``str``, the
command line when piped), a rich renderable (a terminal) and HTML (a
notebook). It knows nothing about derivatives, and rich is imported only when
rich asks for the rendering, so ``import matdiff`` stays fast.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, fields, is_dataclass

INTERNAL = {"internal": True}  # field metadata: kept in the object, left out of to_dict()

STYLES = {  # line style -> rich style
    "title": "bold",
    "heading": "bold cyan",
    "formula": "green",
    "note": "dim",
    "good": "bold green",
    "bad": "bold red",
    "plain": "",
}

# line style → (HTML tag, attribute) for notebooks
_HTML_STYLES = {
    "title":   ("b", ""),
    "heading": ("b", " style='color:#0a7'"),
    "formula": ("span", " style='color:#262'"),
    "note":    ("span", " style='color:#777'"),
    "good":    ("b", " style='color:#080'"),
    "bad":     ("b", " style='color:#b00'"),
}


@dataclass(frozen=True)
class Line:
    text: str
    style: str = "plain"
    indent: int = 0


class Printable:
    """Mixin: ``lines()`` rendered as text, rich and HTML."""

    def lines(self) -> list[Line]:
        raise NotImplementedError

    def to_dict(self) -> dict:
        """The structured data as JSON-ready values, with the printed text under "text"."""
        data = plain(self)
        data["text"] = str(self)
        return data

    def __str__(self) -> str:
        return "\n".join((" " * line.indent + line.text).rstrip() for line in self.lines())

    def __rich__(self):
        from rich.text import Text

        text = Text()
        for number, line in enumerate(self.lines()):
            if number:
                text.append("\n")
            text.append(" " * line.indent + line.text, style=STYLES.get(line.style, ""))
        return text

    def _repr_html_(self) -> str:
        parts = []
        for line in self.lines():
            content = html.escape(" " * line.indent + line.text)
            tag, style = _HTML_STYLES.get(line.style, ("", ""))
            parts.append(f"<{tag}{style}>{content}</{tag}>" if tag else content)
        return "<pre style='line-height:1.35'>" + "\n".join(parts) + "</pre>"


def plain(value):
    """Dataclasses, tuples and dicts as JSON-ready values, internal fields left out."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value) if not f.metadata.get("internal")}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)

