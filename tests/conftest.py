"""Test configuration: internal errors surface as themselves (MATDIFF_STRICT), so a bug
cannot hide behind the MatdiffError the public API would otherwise wrap it in."""

import os

os.environ.setdefault("MATDIFF_STRICT", "1")

# The browser tests' server, browser, page and phone fixtures (one server and browser per module).
pytest_plugins = ("browser_fixtures",)

# The test command runs the property tests derandomized, so a run's verdict depends on the commit
# alone (CI and a developer see the same examples). Random exploration is a separate, longer
# command: HYPOTHESIS_PROFILE=explore python -m pytest tests/test_properties.py (see README).
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# In CI every optional part of the suite must run: the lock installs jax, torch, SymPy, schemathesis
# and the notebook tools, and .ci/run installs chromium. A test skipped there for something missing
# would be a check silently lost, so with CI set such a skip is a failure. atheris is the one
# exception: it belongs to the long fuzzing command (bench/fuzz_atheris.py), not to the lock.
import re  # noqa: E402

import pytest  # noqa: E402

_MISSING = re.compile(r"could not import|is not installed|no Chromium")
_OPTIONAL_EVEN_IN_CI = re.compile(r"atheris")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (os.environ.get("CI") and report.skipped and isinstance(report.longrepr, tuple)):
        return
    reason = str(report.longrepr[2])
    if _MISSING.search(reason) and not _OPTIONAL_EVEN_IN_CI.search(reason):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI for something the lock or .ci/run should install: {reason}"
