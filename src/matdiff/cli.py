"""The command line: ``matdiff diff|grads|explain|check|entries|codegen|serve``.

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

from matdiff import __version__
from matdiff.engine.layout import LAYOUTS
from matdiff.errors import MatdiffError
from matdiff.notation.printing import FORMS
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
    shown = repr(spec) if len(spec) <= 60 else repr(spec[:60]) + "…"
    if not separator or not name.isidentifier() or not dims:
        raise MatdiffError(f"bad --shape {shown}: write NAME=3x4, NAME=n, NAME=mxn or NAME=scalar")
    try:
        return name, normalize_shape(name, shape_from_text(dims))
    except MatdiffError as error:
        reason = error.message.split(": ", 1)[1] if "larger than any array" in error.message else \
            "write NAME=3x4, NAME=n, NAME=mxn or NAME=scalar"
        raise MatdiffError(f"bad --shape {shown}: {reason}") from None


def _shapes(arguments) -> dict:
    return dict(parse_shape(s) for s in arguments.shape or [])


def _assume(arguments):
    """The repeated ``--assume S=symmetric`` as the Assumptions every entry point takes."""
    from matdiff.language.assumptions import Assumptions

    return Assumptions.of(arguments.assume or [])


def _wrt(arguments):
    return arguments.wrt[0] if len(arguments.wrt) == 1 else tuple(arguments.wrt)


NAMING = ("Names without a --shape follow matrixcalculus.org: a-g are scalars, h-z vectors (columns), "
          "A-Z matrices (by first letter), with sizes inferred from how they are used.")
LAYOUT_HELP = ("how the derivative's entries are arranged: numerator (rows follow the expression), "
               "denominator (rows follow the variable), gradient (the variable's shape; scalar "
               "expressions only), jacobian (the expression's axes, then the variable's), vec "
               "(d vec(Y) / d vec(X)) (default: %(default)s)")
SHAPE_HELP = ("shape of a name: A=3x4, x=n (a column), B=mxn, s=scalar; repeat for each name "
              "(default: by the naming convention below)")


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    """What the caller says about the inputs: shapes and structure."""
    parser.add_argument("--shape", action="append", metavar="NAME=SPEC", help=SHAPE_HELP)
    parser.add_argument("--assume", action="append", metavar="NAME=STRUCTURE",
                        help="structure of an input: S=symmetric, S=spd, D=diagonal, x=positive; repeat for "
                             "each input (default: none)")


def _add_common(parser: argparse.ArgumentParser, *, layout: bool = True) -> None:
    parser.add_argument("expression", help="expression or program, e.g. \"x'*A*x\" or 'z = W*x; sum(exp(z))'")
    parser.add_argument("--wrt", action="append", required=True, metavar="X",
                        help="the variable to differentiate by (required); repeat for a higher derivative: "
                             "--wrt x --wrt x is the Hessian, --wrt x --wrt y the mixed second derivative")
    _add_inputs(parser)
    if layout:
        parser.add_argument("--layout", default="numerator",
                            choices=LAYOUTS, help=LAYOUT_HELP)


def _subcommand(commands, name: str, summary: str, **options) -> argparse.ArgumentParser:
    return commands.add_parser(name, help=summary, description=f"{summary}. {NAMING}", **options)


def _add_convention(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--convention", default="unconstrained", choices=["unconstrained", "symmetric", "cookbook"],
                        help="the derivative by a symmetric matrix: every entry free (unconstrained), within "
                             "symmetric matrices (G + G')/2, or by the free entries (the Matrix Cookbook's) "
                             "(default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="matdiff", description=f"Matrix calculus that gets the shapes right. {NAMING}")
    parser.add_argument("--version", action="version", version=f"matdiff {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    diff = _subcommand(commands, "diff", "the derivative, in matrix notation where one exists")
    _add_common(diff)
    _add_convention(diff)
    diff.add_argument("--format", default="text", choices=[*FORMS, "index", "json"],
                      help="text: matrix notation in the input language (else index notation); latex; "
                           "index: index (Einstein) notation; json: all of them; or a printed form registered "
                           "with matdiff.notation.printing.register_form (default: %(default)s)")

    grads = _subcommand(commands, "grads", "the backward pass: a scalar's gradient by every input, sharing "
                        "its activations and deltas")
    grads.add_argument("expression", help="a program with a scalar value, e.g. "
                                          "'a = sigmoid(W*x); 0.5*sum((a - y).^2)'")
    grads.add_argument("--wrt", action="append", metavar="X",
                       help="an input whose gradient you want; repeat to list several (unlike diff, where "
                            "repeating means a higher derivative) (default: every input)")
    _add_inputs(grads)
    _add_convention(grads)
    grads.add_argument("--format", default="text", choices=["text", "latex", "json"],
                       help="text: one statement a line, in the input language; latex; json "
                            "(default: %(default)s)")
    grads.add_argument("--code", choices=["numpy", "jax", "torch"],
                       help="print instead standalone code of one function returning the value and every "
                            "gradient (one forward and one reverse pass)")
    grads.add_argument("--check", action="store_true",
                       help="with --code: a runnable script that also checks every gradient against finite "
                            "differences at random values")

    explain = _subcommand(commands, "explain", "the chain rule step by step, with the shape of every factor")
    _add_common(explain)
    explain.add_argument("--verbose", action="store_true",
                         help="every operation (not only your statements), how each step contracts with the "
                              "previous ones, and the index forms (default: a short solution)")

    check = _subcommand(commands, "check", "is a claimed derivative right? exit 0 yes, 1 no (with why), 2 bad input")
    _add_common(check)
    _add_convention(check)
    check.add_argument("--claim", required=True, metavar="FORMULA",
                       help="the derivative you computed (required), e.g. \"W2*h'\"; it may use the program's "
                            "intermediates (a2) and the backprop names of its deltas (dz2)")

    entries = _subcommand(commands, "entries", "every entry of the derivative as a formula in your own letters")
    _add_common(entries)
    entries.add_argument("--name", action="append", metavar="'W1=a b; c d'",
                         help="letters for the entries of a variable, rows separated by ';'; repeat for "
                              "each variable (default: the variable's name with indices, W1_11)")

    codegen = _subcommand(commands, "codegen", "standalone NumPy/JAX/PyTorch code for the derivative")
    _add_common(codegen)
    _add_convention(codegen)
    codegen.add_argument("--target", default="numpy", choices=["numpy", "jax", "torch"],
                         help="the array library the code uses (default: %(default)s)")
    codegen.add_argument("--check", action="store_true",
                         help="a runnable script: the value, the derivative and a finite-difference check "
                              "(default: the function alone)")

    serve = commands.add_parser("serve", help="the web app on http://127.0.0.1:8000",
                                description="the web app: type an expression, see its derivative")
    serve.add_argument("--host", default="127.0.0.1",
                       help="the address to listen on; 0.0.0.0 opens it to the network (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="the port to listen on (default: %(default)s)")
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
        print(json.dumps(derivative.to_dict(), indent=2))
    elif arguments.format == "latex":
        print(derivative.latex)
        print(f"% {derivative.layout} layout, shape {shape}")
    elif arguments.format == "index":
        print(derivative.index)
    elif arguments.format != "text":  # a printed form registered beside text and LaTeX
        print(derivative.printed(arguments.format) or derivative.index)
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


def run_grads(arguments) -> int:
    from matdiff.backward import gradients

    found = gradients(arguments.expression, shapes=_shapes(arguments), wrt=arguments.wrt, assume=_assume(arguments),
                      convention=arguments.convention)
    if arguments.check and not arguments.code:
        raise MatdiffError("--check goes with --code numpy|jax|torch")
    if arguments.code:
        print(found.code(arguments.code, check=arguments.check), end="")
    elif arguments.format == "json":
        print(json.dumps(found.to_dict(), indent=2))
    elif arguments.format == "latex":
        print(found.latex)
        print("% gradient layout")
    else:
        if found.text is not None:
            print(found.text.replace("; ", "\n"))
        else:
            for name, derivative in found.items():
                print(f"{found.names[name]}: {derivative.index}")
        shapes = ", ".join(f"{found.names[name]} {shape_text(d.shape)}" for name, d in found.items())
        print(f"# gradient layout: {shapes}")
        for note in dict.fromkeys(note for d in found.values() for note in d.notes):
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

    _can_listen(arguments.host, arguments.port)
    serve(host=arguments.host, port=arguments.port)
    return EXIT_OK


def _can_listen(host: str, port: int) -> None:
    """Refuse a port out of range, one in use or a host that is not this machine's with one line,
    before the server starts (it would print its traceback)."""
    import socket

    if not 0 <= port <= 65535:
        raise MatdiffError(f"--port {port} is not a port: give 0-65535")
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except (OSError, UnicodeError) as error:  # in use, not this machine's, not a host name
        reason = getattr(error, "strerror", None) or str(error)
        raise MatdiffError(f"cannot listen on {host}:{port}: {reason}") from None


def run_explain(arguments) -> int:
    from matdiff.tools.explanation import explain

    emit(explain(arguments.expression, _wrt(arguments), shapes=_shapes(arguments), layout=arguments.layout,
                 assume=_assume(arguments), verbose=arguments.verbose))
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


COMMANDS = {"diff": run_diff, "grads": run_grads, "explain": run_explain, "check": run_check, "entries": run_entries,
            "codegen": run_codegen, "serve": run_serve}


def _printable_everywhere() -> None:
    """∂, ×, ᵀ on a terminal that cannot show them (LANG=C, a Latin-1 pipe) come out as
    escapes instead of a UnicodeEncodeError traceback."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _expressions_kept(argv: list[str]) -> list[str]:
    """An expression that starts with a minus sign (``-sum(y.*log(p))``) is not an option: argparse
    would take it for one, so it gets a leading space (which the grammar ignores). No option of
    matdiff holds a bracket, an operator or a quote."""
    return [" " + a if a.startswith("-") and not a.startswith("--") and any(c in a for c in "()*'+/^. ") else a
            for a in argv]


def main(argv: list[str] | None = None) -> int:
    _printable_everywhere()
    parser = build_parser()
    arguments = parser.parse_args(_expressions_kept(sys.argv[1:] if argv is None else argv))
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
