"""Real people for tests: ``../shared/realdata`` beside the checkout (read-only; its README says what each
folder may be used for).

A user's clone has no shared/: tests that need it skip there with the reason, and FAIL under ``CI=true``
(CI has shared/ beside the checkout), as the espeak-ng tests do (``tests/features/espeak.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"


def require_realdata(*parts: str) -> Path:
    """``../shared/realdata/<parts>``; skips the test without it, fails it in CI (``CI=true``)."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{path} is missing in CI: CI checks out shared/ beside the repository")
        pytest.skip(f"{path} is absent (real data: ../shared/realdata beside the checkout); CI runs this")
    return path
