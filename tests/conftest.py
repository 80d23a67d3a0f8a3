"""Test configuration: internal errors surface as themselves (MATDIFF_STRICT), so a bug
cannot hide behind the MatdiffError the public API would otherwise wrap it in."""

import os

os.environ.setdefault("MATDIFF_STRICT", "1")

# CI runs the property tests derandomized, so a run's verdict depends on the commit alone;
# locally they explore new examples on every run.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
