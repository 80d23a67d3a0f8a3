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
