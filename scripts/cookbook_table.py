"""Write the README table "Cookbook, as matdiff prints it" from matdiff itself, so it stays true.

    python scripts/cookbook_table.py           # rewrite the table in README.md
    python scripts/cookbook_table.py --check   # exit 1 if README.md is out of date

The rows are the ``README_ROWS`` identities of :mod:`matdiff.tools.cookbook`, then one table for
each of its ``README_SECTIONS`` (networks on a batch, Kronecker Jacobians); each row shows
the derivative, the layout, what ``md.diff(...).text`` prints and the book's own form.
The table sits between two HTML comments in README.md and nothing else is touched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matdiff as md
from matdiff.tools.cookbook import README_ROWS, README_SECTIONS

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- cookbook-table:start -->", "<!-- cookbook-table:end -->"


def _shapes(shapes: dict) -> str:
    return ", ".join(f"{name} {'×'.join(map(str, shape)) or 'scalar'}" for name, shape in shapes.items())


def _cell(source: str) -> str:
    return "`" + source.replace("|", "\\|") + "`"


def table() -> str:
    """The main table, then one table per section, each under its bold title."""
    blocks = [_table(README_ROWS)]
    blocks += [f"**{title}**\n\n{_table(rows)}" for title, rows in README_SECTIONS]
    return "\n\n".join(blocks)


def _table(rows) -> str:
    lines = ["| topic | derivative | shapes | layout | matdiff prints | the book writes |",
             "|---|---|---|---|---|---|"]
    for identity in rows:
        d = md.diff(identity.expression, wrt=identity.wrt, shapes=identity.shapes, layout=identity.layout)
        names = (identity.wrt,) if isinstance(identity.wrt, str) else identity.wrt
        order = "²" if len(names) == 2 else ""
        derivative = f"∂{order}{_cell(identity.expression)}/{''.join('∂' + n for n in names)}"
        lines.append(f"| {identity.topic} | {derivative} | {_shapes(identity.shapes)} "
                     f"| {identity.layout} | {_cell(d.text)} | {_cell(identity.book)} |")
    return "\n".join(lines)


def updated(readme: str) -> str:
    before, _, rest = readme.partition(START)
    _, _, after = rest.partition(END)
    return f"{before}{START}\n{table()}\n{END}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    arguments = parser.parse_args(argv)
    readme = README.read_text(encoding="utf-8")
    if START not in readme or END not in readme:
        print(f"README.md has no {START} … {END} section", file=sys.stderr)
        return 1
    new = updated(readme)
    if arguments.check:
        if new != readme:
            print("README.md's cookbook table is out of date: run python scripts/cookbook_table.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
