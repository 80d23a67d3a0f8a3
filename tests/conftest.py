"""Test configuration: internal errors surface as themselves (MATDIFF_STRICT), so a bug
cannot hide behind the MatdiffError the public API would otherwise wrap it in."""

import os

os.environ.setdefault("MATDIFF_STRICT", "1")
