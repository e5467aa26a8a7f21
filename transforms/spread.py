"""Spread elements over workers: a random key, a ``GroupByKey``, the values out again.

What ``beam.Reshuffle`` does in batch on Dataflow, Flink and the DirectRunner, spelled out, because
Beam's Dask runner replaces ``Reshuffle`` with nothing and keeps a Dask bag's partitions through every
ParDo: a long video's segments then ran one after another in the partition that planned them. Its
``GroupByKey`` does repartition (by hash of key), so this spreads on every runner.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

KEYS = 1 << 16  # distinct keys: many more than workers, few enough that keys repeat in a large run


def _keyed(element: Any) -> tuple[int, Any]:
    return random.randrange(KEYS), element


def _values(group: tuple[int, Iterable[Any]]) -> Iterator[Any]:
    yield from group[1]


class Spread(beam.PTransform):
    """``pcoll`` unchanged, its elements redistributed over workers (and fusion broken)."""

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        return (
            pcoll
            | "RandomKey" >> beam.Map(_keyed)
            | "Group" >> beam.GroupByKey()
            | "Values" >> beam.FlatMap(_values)
        )
