"""The command line: ``matdiff diff|explain|check|entries|codegen|serve``.

Start-up must stay fast (< 0.3 s): only argparse and the engine are imported
here; rich, the server and the optional backends are imported by the
subcommands that need them. Bad input exits 2 with ``error: …`` and a caret,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from matdiff.engine.layout import LAYOUTS
from matdiff.errors import MatdiffError
from matdiff.language.shapes import normalize_shape, shape_from_text, shape_text

EXIT_OK, EXIT_WRONG, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as ``error: …`` with exit status 2."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def parse_shape(spec: str) -> tuple[str, tuple]:
    """'A=3x4' → ('A', (3, 4)); 'x=n' → ('x', ('n',)); 's=scalar' → ('s', ()); 'B=m,n' too."""
    name, separator, dims = spec.partition("=")
    name, dims = name.strip(), dims.strip()
    if not separator or not name.isidentifier() or not dims:
        raise MatdiffError(f"bad --shape {spec!r}: write NAME=3x4, NAME=n, NAME=mxn or NAME=scalar")
    try:
        return name, normalize_shape(name, shape_from_text(dims))
    except MatdiffError:
        raise MatdiffError(f"bad --shape {spec!r}: write NAME=3x4, NAME=n, NAME=mxn or NAME=scalar") from None


def _shapes(arguments) -> dict:
    return dict(parse_shape(s) for s in arguments.shape or [])


def _assume(arguments):
    """The repeated ``--assume S=symmetric`` as the Assumptions every entry point takes."""
    from matdiff.language.assumptions import Assumptions

    return Assumptions.of(arguments.assume or [])


def _wrt(arguments):
    return arguments.wrt[0] if len(arguments.wrt) == 1 else tuple(arguments.wrt)


def _add_common(parser: argparse.ArgumentParser, *, layout: bool = True) -> None:
    parser.add_argument("expression", help="expression or program, e.g. \"x'*A*x\" or 'z = W*x; sum(exp(z))'")
    parser.add_argument("--wrt", action="append", required=True, metavar="X",
                        help="variable to differentiate by (repeat for higher orders)")
    parser.add_argument("--shape", action="append", metavar="NAME=SPEC",
                        help="shape of a variable: A=3x4, x=n, B=mxn, s=scalar")
    parser.add_argument("--assume", action="append", metavar="NAME=STRUCTURE",
                        help="structure of an input: S=symmetric, S=spd, D=diagonal, x=positive (repeatable)")
    if layout:
        parser.add_argument("--layout", default="numerator",
                            choices=LAYOUTS)


def _add_convention(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--convention", default="unconstrained", choices=["unconstrained", "symmetric", "cookbook"],
                        help="the derivative by a symmetric matrix: every entry free (default), within symmetric "
                             "matrices (G + G')/2, or by the free entries (the Matrix Cookbook's)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="matdiff", description="Matrix calculus that gets the shapes right.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    diff = commands.add_parser("diff", help="the derivative, in matrix notation where one exists")
    _add_common(diff)
    _add_convention(diff)
    diff.add_argument("--format", default="text", choices=["text", "latex", "index", "json"])

    explain = commands.add_parser("explain", help="the chain rule step by step, with the shape of every factor")
    _add_common(explain)

    check = commands.add_parser("check", help="is a claimed derivative right? exit 0 yes, 1 no (with why), 2 bad input")
    _add_common(check)
    _add_convention(check)
    check.add_argument("--claim", required=True, metavar="FORMULA", help="the derivative you computed, e.g. \"W2*h'\"")

    entries = commands.add_parser("entries", help="every entry of the derivative as a formula in your own letters")
    _add_common(entries)
    entries.add_argument("--name", action="append", metavar="'W1=a b; c d'",
                         help="letters for the entries of a variable: rows separated by ';'")

    codegen = commands.add_parser("codegen", help="standalone NumPy/JAX/PyTorch code for the derivative")
    _add_common(codegen)
    _add_convention(codegen)
    codegen.add_argument("--target", default="numpy", choices=["numpy", "jax", "torch"])
    codegen.add_argument("--check", action="store_true",
                         help="a runnable script: the value, the derivative and a finite-difference check")

    serve = commands.add_parser("serve", help="the web app on http://127.0.0.1:8000")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    return parser


def _print_error(error: MatdiffError) -> None:
    print(f"error: {error.message}", file=sys.stderr)
    caret = error.caret()
    if caret:
        print(caret, file=sys.stderr)


def run_diff(arguments) -> int:
    from matdiff.api import diff

    derivative = diff(arguments.expression, wrt=_wrt(arguments), shapes=_shapes(arguments),
                      layout=arguments.layout, assume=_assume(arguments), convention=arguments.convention)
    shape = shape_text(derivative.shape)
    if arguments.format == "json":
        print(json.dumps({"text": derivative.text, "latex": derivative.latex, "index": derivative.index,
                          "shape": list(derivative.shape), "layout": derivative.layout,
                          "reason": derivative.reason, "vec_text": derivative.vec_text,
                          "notes": derivative.notes}, indent=2))
    elif arguments.format == "latex":
        print(derivative.latex)
        print(f"% {derivative.layout} layout, shape {shape}")
    elif arguments.format == "index":
        print(derivative.index)
    else:
        if derivative.text is not None:
            print(derivative.text)
        else:
            print(derivative.index)
            print(f"# no matrix form: {derivative.reason}")
            if derivative.vec_text is not None:
                print(f"# vec layout: {derivative.vec_text}")
        print(f"# {derivative.layout} layout, shape {shape}")
        for note in derivative.notes:
            print(f"# note: {note}")
    return EXIT_OK


def emit(result) -> None:
    """Print a result: rich colours on a terminal, plain text otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console

        Console(highlight=False).print(result)
    else:
        print(str(result))


def run_serve(arguments) -> int:
    from matdiff.web.server import serve

    serve(host=arguments.host, port=arguments.port)
    return EXIT_OK


def run_explain(arguments) -> int:
    from matdiff.tools.explanation import explain

    emit(explain(arguments.expression, _wrt(arguments), shapes=_shapes(arguments), layout=arguments.layout,
                 assume=_assume(arguments)))
    return EXIT_OK


def run_check(arguments) -> int:
    from matdiff.tools.checking import check

    verdict = check(arguments.expression, _wrt(arguments), arguments.claim, shapes=_shapes(arguments),
                    layout=arguments.layout, assume=_assume(arguments), convention=arguments.convention)
    emit(verdict)
    return EXIT_OK if verdict.correct else EXIT_WRONG


def run_entries(arguments) -> int:
    from matdiff.tools.componentwise import entries, parse_name_argument

    names = dict(parse_name_argument(text) for text in arguments.name or [])
    emit(entries(arguments.expression, _wrt(arguments), shapes=_shapes(arguments), names=names,
                 layout=arguments.layout, assume=_assume(arguments)))
    return EXIT_OK


def run_codegen(arguments) -> int:
    from matdiff.api import diff

    derivative = diff(arguments.expression, wrt=_wrt(arguments), shapes=_shapes(arguments),
                      layout=arguments.layout, assume=_assume(arguments), convention=arguments.convention)
    print(derivative.code(arguments.target, check=arguments.check), end="")
    return EXIT_OK


COMMANDS = {"diff": run_diff, "explain": run_explain, "check": run_check, "entries": run_entries,
            "codegen": run_codegen, "serve": run_serve}


def _printable_everywhere() -> None:
    """∂, ×, ᵀ on a terminal that cannot show them (LANG=C, a Latin-1 pipe) come out as
    escapes instead of a UnicodeEncodeError traceback."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    _printable_everywhere()
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return COMMANDS[arguments.command](arguments)
    except MatdiffError as error:
        _print_error(error)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left (matdiff codegen ... | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # as a process killed by SIGPIPE


if __name__ == "__main__":
    raise SystemExit(main())
