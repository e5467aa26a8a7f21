"""Output naming: the one module that knows where a run's files live and what they are called (pure).

Layout of an output folder ``DIR`` (local or gs://):

- ``DIR/<table>/posted_date=<day>/part-<run_id>-<shard>.parquet``: published files of committed runs;
- ``DIR/_staging/<run_id>/<table>/posted_date=<day>/staged-<token>.parquet``: files a run writes while
  it runs (``_``-prefixed, so no reader that globs ``DIR/<table>/**`` sees them), each under a name no
  other file has (a random token per file: a retried bundle's files never collide with the first
  attempt's); the commit stage gives the files it publishes their ``part-`` names;
- ``DIR/_staging/<run_id>/_ledger.json``: what the commit stage counted (inputs, files, statuses), for
  the launcher when the run publishes nothing (nothing left to do, or rows that do not reconcile);
- ``DIR/_staging/<run_id>/_publish.json``: the publication intent (which staged file goes where);
- ``DIR/_staging/<run_id>/_retract.json``: the retraction record of ``--force`` (which files go away);
- ``DIR/_runs/<run_id>.json``: the commit marker. A run's rows count once its marker exists.

Every match on a file name is exact (:func:`parse_part_name`), never a prefix match: run ``day`` never
claims the files of run ``day-2``.
"""

from __future__ import annotations

import posixpath
import re

from emotrace.schemas.lineage import PARTITION_COLUMN

RUN_ID_CHARS = "[A-Za-z0-9][A-Za-z0-9._-]{0,127}"  # what a user may choose (--run-id)
RUN_ID_RULE = "1-128 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, without '..'"
# A continuation of run X (``--skip-existing --run-id X`` once X is committed) is run ``X~002``, ``X~003``,
# ...: its own commit, named so that it sorts after X and belongs to X's family by an exact rule (``~``
# is not allowed in a chosen run id, so no user run id is ever taken for a continuation).
CONTINUATION = "~"
_CONTINUED = f"(?:{CONTINUATION}[0-9]{{3}})?"
_RUN_ID = re.compile(RUN_ID_CHARS + _CONTINUED)
_USER_RUN_ID = re.compile(RUN_ID_CHARS)
SHARD_DIGITS = 5
_PART = re.compile(
    rf"part-(?P<run_id>{RUN_ID_CHARS}{_CONTINUED})-(?P<shard>[0-9]{{{SHARD_DIGITS}}})\.parquet"
)

_STAGED = re.compile(r"staged-[0-9a-f]{32}\.parquet")

RUN_TABLES = ("traces", "videos", "tracks")  # what an analyze run writes, stages and publishes
STAGING = "_staging"
RUNS = "_runs"
INTENT = "_publish.json"
LEDGER = "_ledger.json"
RETRACTION = "_retract.json"
MARKER_SUFFIX = ".json"


def is_valid_run_id(run_id: str, chosen: bool = False) -> bool:
    """A run id in names; ``chosen``: one a user may pick (no continuation suffix)."""
    pattern = _USER_RUN_ID if chosen else _RUN_ID
    return pattern.fullmatch(run_id) is not None and ".." not in run_id


def continuation(run_id: str, attempt: int) -> str:
    """The id of the ``attempt``-th commit of run ``run_id`` (the first is ``run_id`` itself)."""
    if not 2 <= attempt <= 999:
        raise ValueError(f"run {run_id} has no room for continuation {attempt} (2..999)")
    return f"{base_run(run_id)}{CONTINUATION}{attempt:03d}"


def base_run(run_id: str) -> str:
    """``X`` for ``X`` and for its continuations ``X~002``, ..."""
    return run_id.split(CONTINUATION, 1)[0]


def attempt_of(run_id: str) -> int:
    """1 for ``X``, 2 for ``X~002``, ..."""
    _, sep, n = run_id.partition(CONTINUATION)
    return int(n) if sep else 1


def check_run_id(run_id: str) -> str:
    """``run_id`` itself, or ValueError naming the rule (a run id is part of file names)."""
    if not is_valid_run_id(run_id):
        raise ValueError(f"run id {run_id!r} is not allowed: {RUN_ID_RULE}")
    return run_id


def part_name(run_id: str, shard: int) -> str:
    """``part-<run_id>-<shard>.parquet``, the shard as 5 digits."""
    if not 0 <= shard < 10**SHARD_DIGITS:
        raise ValueError(f"shard {shard} outside 0..{10**SHARD_DIGITS - 1}")
    return f"part-{check_run_id(run_id)}-{shard:0{SHARD_DIGITS}d}.parquet"


def parse_part_name(name: str) -> tuple[str, int] | None:
    """``part-<run_id>-<shard>.parquet`` -> (run_id, shard); None for any other name (temporary files,
    Beam debris, foreign files). The shard is the last 5 digits, so run ids may contain ``-``."""
    m = _PART.fullmatch(name)
    if m is None or ".." in m["run_id"]:
        return None
    return m["run_id"], int(m["shard"])


def run_of_file(uri: str) -> str | None:
    """The run id a published or staged Parquet file belongs to, by its exact name; None if not ours."""
    parsed = parse_part_name(posixpath.basename(uri))
    return parsed[0] if parsed else None


def join(root: str, *parts: str) -> str:
    return posixpath.join(root.rstrip("/"), *parts)


def table_dir(root: str, table: str) -> str:
    """``ROOT/<table>``; ``root`` is an output folder or a run's staging folder."""
    return join(root, table)


def part_path(root: str, table: str, partition: str, run_id: str, shard: int) -> str:
    """``ROOT/<table>/posted_date=<partition>/part-<run_id>-<shard>.parquet``."""
    return join(root, table, f"{PARTITION_COLUMN}={partition}", part_name(run_id, shard))


def staged_part_path(root: str, table: str, partition: str, token: str) -> str:
    """``ROOT/<table>/posted_date=<partition>/staged-<token>.parquet``: a file as a writer makes it in
    a run's staging folder; ``token`` is 32 hex digits (``uuid4().hex``), unique to the file."""
    name = f"staged-{token}.parquet"
    if _STAGED.fullmatch(name) is None:
        raise ValueError(f"token {token!r} is not 32 lower-case hex digits")
    return join(root, table, f"{PARTITION_COLUMN}={partition}", name)


def is_staged_part(uri: str) -> bool:
    """A writer's file in a staging folder (never a published name: ``parse_part_name`` refuses it)."""
    return _STAGED.fullmatch(posixpath.basename(uri)) is not None


def sink_prefix(root: str, table: str, run_id: str) -> str:
    """``ROOT/<table>/part-<run_id>``: the prefix Beam's own sinks complete with ``-SSSSS-of-NNNNN``
    (the aggregate tables, written by ``emotrace aggregate``)."""
    return join(root, table, f"part-{check_run_id(run_id)}")


def staging_dir(output: str, run_id: str) -> str:
    """Where a run writes its files before they are published: ``DIR/_staging/<run_id>``."""
    return join(output, STAGING, check_run_id(run_id))


def intent_path(output: str, run_id: str) -> str:
    return join(staging_dir(output, run_id), INTENT)


def ledger_path(output: str, run_id: str) -> str:
    return join(staging_dir(output, run_id), LEDGER)


def retraction_path(output: str, run_id: str) -> str:
    return join(staging_dir(output, run_id), RETRACTION)


def runs_dir(output: str) -> str:
    return join(output, RUNS)


def marker_path(output: str, run_id: str) -> str:
    """The commit marker ``DIR/_runs/<run_id>.json``."""
    return join(runs_dir(output), check_run_id(run_id) + MARKER_SUFFIX)


def run_of_marker(uri: str) -> str | None:
    """``.../_runs/<run_id>.json`` -> run_id; None for any other name."""
    name = posixpath.basename(uri)
    if not name.endswith(MARKER_SUFFIX):
        return None
    run_id = name[: -len(MARKER_SUFFIX)]
    return run_id if is_valid_run_id(run_id) else None


def relative_to(root: str, uri: str) -> str:
    """``uri`` below ``root`` as a relative path (what intents and markers store, so a folder can move)."""
    prefix = root.rstrip("/") + "/"
    if not uri.startswith(prefix):
        raise ValueError(f"{uri} is not below {root}")
    return uri[len(prefix) :]
