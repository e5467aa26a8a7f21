"""One output per stage, split downstream by element type, instead of Beam's tagged outputs.

A stage that makes several kinds of element (windows, outcomes, tracks, segments) yields them all on
its one output, each kind a distinct record type (``schemas/records.py``), and each consumer takes its
kind with :class:`OfType`, a plain single-output ParDo. Why not ``ParDo.with_outputs``: Beam's Dask
runner (2.77) does not separate a multi-output ParDo's outputs, so every consumer received every kind
(docs/deploy.md, "Dask"); the same holds for what is built on tagged outputs (``Partition``,
``with_exception_handling``). A type test per element per consumer costs nothing next to a video.
"""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam


def _only(element: object, kind: type) -> Iterator[object]:
    if isinstance(element, kind):
        yield element


class OfType(beam.PTransform):
    """The elements of one record type (``isinstance``): ``mixed | OfType(StepWindow)``."""

    def __init__(self, kind: type) -> None:
        super().__init__()
        self._kind = kind

    def default_label(self) -> str:
        return f"Only{self._kind.__name__}"

    def expand(self, mixed: beam.PCollection) -> beam.PCollection:
        return mixed | beam.FlatMap(_only, self._kind).with_output_types(self._kind)


def split(mixed: beam.PCollection, stage: str, *kinds: type) -> tuple[beam.PCollection, ...]:
    """``mixed`` as one PCollection per kind, in the order given; ``stage`` prefixes the labels
    (``ExtractOnlyWindowBatch``), which must be unique in the pipeline."""
    return tuple(mixed | f"{stage}Only{kind.__name__}" >> OfType(kind) for kind in kinds)
