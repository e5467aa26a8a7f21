"""Identical inputs in one run: the first (in ``--input`` order) is processed, each other one gets its
own ``videos`` row, ``skipped`` with DUPLICATE_INPUT naming where the first one is.

Identity is the key every later stage joins on: (canonical ``video_uri``, ``post_id``), see
``schemas/uris.py``. Without this, two identical rows met in one join and failed together (issue 15).
Two plain ParDos read the grouped inputs (no multi-output ParDo), so any runner can separate them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam

from emotrace.datasets.inputs import InputEntry
from emotrace.schemas.errors import ErrorCode
from emotrace.schemas.records import VideoOutcome, VideoRef
from emotrace.transforms.outcomes import Key, key_of

Grouped = tuple[Key, Iterable[InputEntry]]


def _ordered(entries: Iterable[InputEntry]) -> list[InputEntry]:
    return sorted(entries, key=lambda e: e.ordinal)


def first_of(group: Grouped) -> Iterator[VideoRef]:
    first = _ordered(group[1])[0]
    assert isinstance(first.item, VideoRef)
    yield first.item


def duplicates_of(group: Grouped) -> Iterator[VideoOutcome]:
    first, *rest = _ordered(group[1])
    for entry in rest:
        assert isinstance(entry.item, VideoRef)
        yield VideoOutcome(
            entry.item,
            "skipped",
            ErrorCode.DUPLICATE_INPUT.value,
            f"{entry.source} is the same input (video_uri and post_id) as {first.source}, processed there",
        )


class DedupeInputs(beam.PTransform):
    """``InputEntry`` (valid inputs only) -> (VideoRef, one per distinct input: the first occurrence;
    VideoOutcome, one per later occurrence)."""

    def expand(self, entries: beam.PCollection) -> tuple[beam.PCollection, beam.PCollection]:
        grouped = (
            entries
            | "KeyByIdentity" >> beam.Map(lambda e: (key_of(e.item), e))
            | "GroupIdentical" >> beam.GroupByKey()
        )
        return (
            grouped | "First" >> beam.FlatMap(first_of),
            grouped | "Duplicates" >> beam.FlatMap(duplicates_of),
        )
