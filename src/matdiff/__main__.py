"""``python -m matdiff``: the same command as ``matdiff``."""

from matdiff.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
