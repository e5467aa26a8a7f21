"""Identical inputs in one run, and inputs already done: resolved per input identity, in one shuffle.

Identity is the key every later stage joins on: (canonical ``video_uri``, ``post_id``), see
``schemas/uris.py``. Per identity:

- with ``--skip-existing``, when a committed run has an ``ok`` row for it, every entry of it is left out
  (counted in an ``InputTally``, so the run still reconciles), as before the pipeline read its inputs;
- otherwise the first entry (in ``--input`` order) is processed, and each other one gets its own
  ``videos`` row, ``skipped`` with DUPLICATE_INPUT naming where the first one is. Without this, two
  identical rows met in one join and failed together (issue 15).

One FlatMap yields all three kinds on one output (``transforms/union.py``), so any runner separates them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam

from emotrace.datasets.inputs import InputEntry
from emotrace.schemas.errors import ErrorCode, Status
from emotrace.schemas.keys import InputKey, key_of
from emotrace.schemas.records import InputTally, VideoOutcome, VideoRef

Resolved = VideoRef | VideoOutcome | InputTally
Grouped = tuple[InputKey, dict[str, Iterable[object]]]


def resolve(group: Grouped) -> Iterator[Resolved]:
    """One identity's entries (and whether it is done already) -> what becomes of each."""
    _, parts = group
    entries = sorted(parts["entries"], key=lambda e: e.ordinal)  # type: ignore[attr-defined]
    if not entries:  # an ok row of an earlier run for an input this run does not have
        return
    if any(parts.get("done", ())):
        yield InputTally(already_ok=len(entries))
        return
    first, *rest = entries
    assert isinstance(first.item, VideoRef)
    yield first.item
    for entry in rest:
        assert isinstance(entry.item, VideoRef)
        yield VideoOutcome(
            entry.item,
            Status.SKIPPED,
            ErrorCode.DUPLICATE_INPUT.value,
            f"{entry.source} is the same input (video_uri and post_id) as {first.source}, processed there",
        )


def _keyed(entry: InputEntry) -> Iterator[tuple[InputKey, InputEntry]]:
    if isinstance(entry.item, VideoRef):  # invalid manifest rows have no identity: rows of their own
        yield key_of(entry.item), entry


class DedupeInputs(beam.PTransform):
    """``InputEntry`` elements -> VideoRef (one per distinct input to process), VideoOutcome (each
    later occurrence) and InputTally (entries left out because ``done`` has their identity): one output.

    ``done``: ``(identity, True)`` pairs of inputs already ok (``transforms.inputs.OkKeys``), or None.
    """

    def __init__(self, done: beam.PCollection | None = None) -> None:
        super().__init__()
        self._done = done

    def expand(self, entries: beam.PCollection) -> beam.PCollection:
        keyed = entries | "KeyByIdentity" >> beam.FlatMap(_keyed)
        parts = {"entries": keyed} if self._done is None else {"entries": keyed, "done": self._done}
        return parts | "GroupIdentical" >> beam.CoGroupByKey() | "Resolve" >> beam.FlatMap(resolve)
