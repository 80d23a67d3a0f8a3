"""Lint, types and the layering contract, as part of the README's test command (so `.ci/run` is that
command and nothing else). The tools' versions come from requirements/test.lock: a newer ruff or mypy
can add checks, and only `bash scripts/lock` moves them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "ruff": [sys.executable, "-m", "ruff", "check", "src", "tests", "bench", "scripts"],
    "mypy": [sys.executable, "-m", "mypy", "src"],
    "import-linter": ["lint-imports"],
}
MODULES = {"ruff": "ruff", "mypy": "mypy", "import-linter": "importlinter"}


@pytest.mark.parametrize("tool", sorted(COMMANDS))
def test_the_code_passes(tool):
    __import__("importlib").import_module(MODULES[tool])  # ImportError: install requirements/test.lock
    command = COMMANDS[tool]
    if command[0] != sys.executable:
        command = [shutil.which(command[0]) or str(Path(sys.executable).parent / command[0]), *command[1:]]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{tool} failed:\n{done.stdout}\n{done.stderr}"


def test_no_source_file_is_over_450_lines():
    """Small files, each owning one thing (the project's standard): a file that grows past 450 lines is
    split by what it owns, not trimmed."""
    long = {str(path.relative_to(ROOT)): n for path in (ROOT / "src").rglob("*.py")
            if (n := len(path.read_text().splitlines())) > 450}
    assert not long, long
