"""The docs are executable: every command and code block in README.md and docs/*.md runs here and
its output is compared with what the page shows, so the docs cannot drift from the code.

The conventions a page follows (docs/README of conventions: the top of docs/api.md):

- A ```python block runs, in order, in one namespace per page; one written as an interactive
  session (``>>>``) runs as a doctest, where ``...`` elides. An expression statement followed
  by a comment that opens with a Python literal (``d.text  # 'h*W2'``, ``d.shape  # (2, 2)``, or
  the literal alone on the next line) is checked: its value must equal the literal. Prose after
  the literal, separated by two spaces, is a remark. In a string, ``…`` stands for any text.
- In a plain ``` block, a line ``$ matdiff …`` is a command and the lines after it, up to the next
  ``$`` line, are its output (stdout, then stderr). ``…`` within a line stands for any text; a
  line that is only ``…`` stands for any number of lines (the output was shortened there).
- A ```sh block holds commands to type: each runs and must succeed. ``pip install`` (done by
  whoever runs the tests) and ``python -m pytest`` (this very run) are the two exceptions.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import io
import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from matdiff import cli, limits

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ELLIPSIS = "…"


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: its info string (``python``, ``sh`` or empty) and its lines."""

    page: Path
    line: int  # 1-based line of the opening fence
    info: str
    lines: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    found, current, start, info = [], None, 0, ""
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            if current is None:
                current, start, info = [], number, line[3:].strip()
            else:
                found.append(Block(page, start, info, tuple(current)))
                current = None
        elif current is not None:
            current.append(line)
    return found


def _pattern(expected: str) -> re.Pattern:
    """``…`` in an expected line matches any text; everything else literally."""
    return re.compile(".*?".join(re.escape(part) for part in expected.split(ELLIPSIS)) + r"\Z", re.S)


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line-by-line match with elisions: a line ``…`` alone matches zero or more lines."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head.strip() == ELLIPSIS:
        return any(matches(rest, actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and bool(_pattern(head.rstrip()).match(actual[0].rstrip())) and matches(rest, actual[1:])


def run_cli(command: str) -> list[str]:
    """Run one ``matdiff …`` command in-process and return its output lines (stdout, then stderr)."""
    argv = shlex.split(command)
    assert argv[0] == "matdiff", f"not a matdiff command: {command}"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(argv[1:])
        except SystemExit:
            pass
    return (out.getvalue() + err.getvalue()).splitlines()


def transcripts(block: Block) -> list[tuple[str, list[str]]]:
    """The ``$ command`` lines of a plain block, each with the output lines shown under it."""
    found: list[tuple[str, list[str]]] = []
    for line in block.lines:
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found:
            found[-1][1].append(line)
    return found


def expected_literal(comment: str):
    """The literal a comment opens with (``'h*W2'   matrix notation`` → 'h*W2'), or None for prose."""
    text = comment.strip()
    cuts = [m.start() for m in re.finditer(r"\s{2,}|\s+[—(]", text)] + [len(text)]
    for cut in sorted(set(cuts), reverse=True):
        try:
            return (ast.literal_eval(text[:cut]),)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return None


def _same(expected, actual) -> bool:
    if isinstance(expected, str):
        return isinstance(actual, str) and bool(_pattern(expected).match(actual))
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        try:
            return abs(float(actual) - expected) <= 1e-9 * max(1.0, abs(expected))
        except (TypeError, ValueError):
            return False
    if isinstance(expected, tuple):
        return isinstance(actual, tuple) and len(actual) == len(expected) and all(map(_same, expected, actual))
    return expected == actual


def checked_statements(source: str) -> list[tuple[ast.stmt, object]]:
    """Each top-level statement of a python block, with the literal its trailing comment shows."""
    lines = source.splitlines()
    tree = ast.parse(source)
    result = []
    for statement in tree.body:
        end = statement.end_lineno or statement.lineno
        expected = None
        if isinstance(statement, ast.Expr):
            trailing = lines[end - 1][statement.end_col_offset or 0:]
            if "#" in trailing:
                expected = expected_literal(trailing.split("#", 1)[1])
            elif end < len(lines) and lines[end].lstrip().startswith("#"):
                expected = expected_literal(lines[end].lstrip()[1:])
        result.append((statement, expected))
    return result


def run_doctest(block: Block, namespace: dict) -> None:
    """A block written as an interactive session (``>>>``) runs as a doctest, ``...`` eliding."""
    text = "\n".join(block.lines) + "\n"
    test = doctest.DocTestParser().get_doctest(text, namespace, block.where, str(block.page), block.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.IGNORE_EXCEPTION_DETAIL)
    report = io.StringIO()
    runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)  # the page's later blocks see this one's names
    assert runner.failures == 0, report.getvalue()


def run_python(block: Block, namespace: dict) -> None:
    if any(line.startswith(">>>") for line in block.lines):
        run_doctest(block, namespace)
        return
    source = "\n".join(block.lines)
    for statement, expected in checked_statements(source):
        module = ast.Module(body=[statement], type_ignores=[])
        if isinstance(statement, ast.Expr):
            # Docs are our own text: running them is the point of this test.
            value = eval(compile(ast.Expression(statement.value), block.where, "eval"), namespace)
            if expected is not None:
                assert _same(expected[0], value), (
                    f"{block.where}: `{ast.unparse(statement)}` is {value!r}, the page shows {expected[0]!r}")
        else:
            exec(compile(module, block.where, "exec"), namespace)


def run_sh(block: Block) -> None:
    for line in block.lines:
        for command in (part.strip() for part in line.split("&&")):
            if not command or command.startswith("pip install") or command == "python -m pytest":
                continue
            output = run_cli(command)
            assert not any(o.startswith("error:") for o in output), f"{block.where}: `{command}` failed: {output}"


ALL_BLOCKS = [block for page in PAGES for block in blocks(page)]


def test_the_docs_have_runnable_blocks():
    """A guard: if the parsing broke, the tests below would silently check nothing."""
    assert sum(b.info == "python" for b in ALL_BLOCKS) >= 8
    assert sum(len(transcripts(b)) for b in ALL_BLOCKS if not b.info) >= 5


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run_and_print_what_the_page_shows(page):
    saved = limits.current
    namespace: dict = {"__name__": "__docs__"}
    try:
        for block in blocks(page):
            if block.info == "python":
                run_python(block, namespace)
    finally:
        limits.current = replace(saved)


@pytest.mark.parametrize(
    "block", [b for b in ALL_BLOCKS if not b.info and transcripts(b)], ids=lambda b: b.where)
def test_commands_print_what_the_page_shows(block):
    for command, expected in transcripts(block):
        if command.startswith("matdiff serve"):
            continue
        actual = run_cli(command)
        assert matches(expected, actual), (
            f"{block.where}: `{command}` printed\n" + "\n".join(actual) + "\n\nthe page shows\n" + "\n".join(expected))


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.info == "sh"], ids=lambda b: b.where)
def test_shell_commands_succeed(block):
    run_sh(block)


@pytest.mark.parametrize("expected, actual, ok", [
    (["a", "…", "d"], ["a", "b", "c", "d"], True),
    (["a", "…"], ["a"], True),
    (["a"], ["a", "b"], False),
    (["x = …"], ["x = 42"], True),
    (["x = …1"], ["x = 42"], False),
])
def test_elisions_match_only_what_they_mark(expected, actual, ok):
    assert matches(expected, actual) is ok


def test_a_comment_literal_is_read_up_to_its_remark():
    assert expected_literal(" 'h*W2'            matrix notation") == ("h*W2",)
    assert expected_literal(" (2, 2)") == ((2, 2),)
    assert expected_literal(" a 3×2 array, checked") is None


def test_the_errors_the_docs_name_are_the_ones_raised():
    """README and docs/api.md name LayoutError for an unknown layout, and InternalError as public."""
    import matdiff as md

    with pytest.raises(md.LayoutError):
        md.diff("x'*x", wrt="x", layout="sideways")
    assert issubclass(md.InternalError, md.MatdiffError) and "InternalError" in md.__all__


def test_the_contract_the_docs_cite_is_in_the_repository():
    cited = {m for page in PAGES for m in re.findall(r"\(([\w./-]+\.md)\b", page.read_text(encoding="utf-8"))}
    assert (ROOT / "SPEC.md").is_file()
    for link in cited:
        assert (ROOT / link).is_file() or (ROOT / "docs" / link).is_file() or (ROOT / link.lstrip("./")).exists(), link


def test_ci_runs_exactly_the_readmes_test_command():
    """The quick start's second command is what CI runs, word for word (issue 19): a README that
    promises one thing while CI checks another would let a fresh machine's setup rot unseen."""
    quick_start = next(b for b in blocks(ROOT / "README.md") if b.info == "sh")
    assert len(quick_start.lines) == 2, "the quick start is exactly two commands"
    test_command = quick_start.lines[1]
    assert "requirements/test.lock" in test_command and test_command.endswith("python -m pytest")
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci_lines[-1] == test_command


def test_the_lock_pins_every_package_and_pyproject_ranges_only_runtime_requirements():
    """Issue 19: `>=` ranges belong to the library's runtime requirements; what CI installs is exact."""
    lock = (ROOT / "requirements" / "test.lock").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$", lock, flags=re.M)
    assert len(pins) >= 60 and {"pytest", "schemathesis", "jax", "torch", "ruff", "mypy"} <= {n for n, _ in pins}
    requirement_lines = [line for line in lock.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(requirement_lines) == len(pins), "every requirement in the lock is an exact pin"
    assert lock.count("--hash=sha256:") >= len(pins)
    pyproject = (ROOT / "pyproject.toml").read_text()
    extras = pyproject.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    assert re.findall(r"^(\w+) = ", extras, flags=re.M) == ["sympy", "jax", "torch"], (
        "optional extras are the library's optional runtime requirements; test tools live in the lock")
