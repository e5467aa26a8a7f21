"""Lineage and partition values stamped on every output row (pure; no Beam).

- ``pipeline_version``: the emotrace release that wrote the row (``emotrace.__version__``).
- ``config_hash``: first 12 hex digits of the sha256 of the analysis config plus the model version, so
  two rows with the same hash were produced by the same settings and weights.
- ``posted_date``: the Hive partition value (``posted_date=YYYY-MM-DD``), the post's UTC calendar date.
  A missing or unreadable ``posted_at`` goes to ``__HIVE_DEFAULT_PARTITION__``, which DuckDB, Spark and
  pyarrow all read back as NULL (a made-up word such as ``unknown`` would turn the column into text).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from emotrace import __version__

PIPELINE_VERSION: str = __version__
PARTITION_COLUMN = "posted_date"
DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
CONFIG_HASH_CHARS = 12
USER_ID_SALT_ENV = "EMOTRACE_USER_ID_SALT"


def config_hash(config: dict[str, Any], model_version: str) -> str:
    """12 hex chars identifying (config, model). Key order never matters: the JSON is canonical."""
    canonical = json.dumps({"config": config, "model_version": model_version}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:CONFIG_HASH_CHARS]


def posted_date(posted_at: str | None) -> str:
    """``YYYY-MM-DD`` (UTC) of an ISO 8601 ``posted_at``; ``DEFAULT_PARTITION`` when absent or unreadable.

    A timestamp without an offset is taken as UTC (manifests from platform exports are UTC). Total: any
    text gives a partition value, never an exception, since one row must not end the job (issue 15). A
    time whose UTC day falls outside years 1-9999 (``0001-01-01T00:00+01:00``) is unreadable as a UTC day.
    """
    if not posted_at or not posted_at.strip():
        return DEFAULT_PARTITION
    try:
        when = datetime.fromisoformat(posted_at.strip())
        if when.tzinfo is not None:
            when = when.astimezone(UTC)  # OverflowError past year 9999 or before year 1
    except (ValueError, OverflowError):
        return DEFAULT_PARTITION
    return when.date().isoformat()


def hash_user_id(user_id: str | None, salt: str) -> str | None:
    """Salted sha256 (hex, 64 chars) of a user id; None stays None. Same salt, same pseudonym."""
    if user_id is None:
        return None
    if not salt:
        raise ValueError(f"an empty salt protects nothing: set {USER_ID_SALT_ENV}")
    return hashlib.sha256(salt.encode("utf-8") + b"\x00" + user_id.encode("utf-8")).hexdigest()
