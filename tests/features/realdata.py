"""Real people for tests: ``../shared/realdata`` beside the checkout (CI has it; a user's clone does not).

Without it a test skips, unless ``CI=true``: in CI it must run, so a missing folder fails (the pattern
of ``tests/features/espeak.py``). Read realdata/README.md for what each collection may be used for.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
REALDATA = REPO_ROOT.parent / "shared" / "realdata"


def require_realdata() -> str:
    """Path of ``../shared/realdata``; skips the test without it, fails it in CI (``CI=true``)."""
    if not (REALDATA / "faces").is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{REALDATA} is missing in CI: shared/ must sit beside the checkout")
        pytest.skip(f"real faces not found at {REALDATA} (a clone without ../shared); CI runs this test")
    return str(REALDATA)
