"""``--input`` read inside the job: the launcher submits the input's name, never its rows.

:class:`ReadInputs` is a one-element ``Create`` of the ``--input`` string followed by a DoFn that
streams it through the pure core (``datasets.inputs.iter_inputs``: a manifest parsed row by row with
its per-row errors, a folder listed, a glob matched), so the submitted job is the same size for 100 rows
or 100 million, and the launcher's memory does not grow with the manifest. The DoFn emits every
``InputEntry`` and, last, an ``InputTally`` with their number, which the commit stage reconciles the
``videos`` rows against; it also writes that number to the run's staging folder
(``_staging/<run_id>/_inputs.json``) so that workers' progress lines can say "of N".

Why a DoFn over Beam's FileSystems rather than ``fileio.MatchFiles``/``ReadMatches`` or ``ReadFromText``:
a CSV row may span lines (quoted newlines), so a manifest is parsed as one stream, not split by line;
``--input`` is a literal path (``MatchFiles`` would read ``[`` in a file name as a glob); and on a local
disk a folder's broken links, link loops and sub-folders named like videos each get a row, where
``MatchFiles`` drops them silently. Remote folders and globs go through ``FileSystems.match``, as
``MatchFiles`` does. One worker reads a manifest (parsing runs at tens of thousands of rows a second,
benchmarks/README.md); the ``Reshuffle`` and the de-duplication's shuffle after it spread the rows.

``--skip-existing``: :class:`OkKeys` reads the identity of every ``ok`` row of the committed ``videos``
files inside the job, one file per element, for the join in ``transforms/dedupe.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import NamedTuple

import apache_beam as beam

from emotrace.datasets.inputs import InputEntry, InvalidRow, iter_inputs
from emotrace.schemas.errors import ErrorCode, Status
from emotrace.schemas.keys import InputKey
from emotrace.schemas.lineage import hash_user_id
from emotrace.schemas.naming import join
from emotrace.schemas.records import InputTally, VideoOutcome, VideoRef
from emotrace.schemas.uris import canonical_uri
from emotrace.transforms import io as fs
from emotrace.transforms.publish import committed_files
from emotrace.transforms.spread import Spread

log = logging.getLogger("emotrace")
COUNT_FILE = "_inputs.json"


def count_path(staging: str) -> str:
    return join(staging, COUNT_FILE)


class InputShard(NamedTuple):
    """Shard ``index`` of ``shards`` of ``--input``: the entries whose ordinal is ``index`` modulo
    ``shards``. One shard unless a runner cannot spread one element's outputs (Dask: see ReadInputs)."""

    spec: str
    index: int = 0
    shards: int = 1


class ExpandInputs(beam.DoFn):
    """An ``InputShard`` -> its ``InputEntry``s (user ids pseudonymized with ``salt`` when given), then
    one ``InputTally`` with their number. Shard 0 writes the number of all inputs to the staging folder."""

    def __init__(self, staging: str, salt: str | None) -> None:
        self._staging = staging
        self._salt = salt
        self._read = beam.metrics.Metrics.counter("emotrace", "inputs_read")

    def process(self, shard: InputShard) -> Iterator[InputEntry | InputTally]:
        n = mine = invalid = 0
        for entry in iter_inputs(shard.spec, fs.INPUTS):
            n += 1
            invalid += isinstance(entry.item, InvalidRow)
            if entry.ordinal % shard.shards != shard.index:
                continue
            mine += 1
            if self._salt is not None and isinstance(entry.item, VideoRef):
                entry = entry._replace(item=pseudonymized(entry.item, self._salt))
            yield entry
        self._read.inc(mine)
        if shard.index == 0:
            fs.write_json(count_path(self._staging), {"inputs": n, "invalid": invalid})
            log.info("%s: %d inputs (%d invalid manifest rows)", shard.spec, n, invalid)
        yield InputTally(inputs=mine)


def pseudonymized(ref: VideoRef, salt: str) -> VideoRef:
    """``--hash-user-ids``: the user id becomes a salted hash before any other stage sees it (issue 7)."""
    return ref._replace(user_id=hash_user_id(ref.user_id, salt))


class RunTotal:
    """The run's number of inputs once the expansion has counted them (None before), read once from the
    staging folder: what workers' progress lines say "of N" with. Picklable, cached per worker."""

    def __init__(self, staging: str) -> None:
        self._uri = count_path(staging)
        self._total: int | None = None

    def __call__(self) -> int | None:
        if self._total is None and fs.exists(self._uri):
            self._total = int(fs.read_json(self._uri)["inputs"])
        return self._total


def invalid_outcome(entry: InputEntry) -> Iterator[VideoOutcome]:
    """A manifest row that names no usable video -> its failed outcome (valid entries: nothing)."""
    row = entry.item
    if isinstance(row, InvalidRow):
        ref = VideoRef(video_uri=row.source, post_id=row.source)
        yield VideoOutcome(ref, Status.FAILED, ErrorCode.MANIFEST_ROW_INVALID.value, row.reason)


class ReadInputs(beam.PTransform):
    """``--input`` -> ``InputEntry`` and ``InputTally`` elements (one output, split by type).

    ``shards`` > 1 reads ``--input`` as that many elements, each keeping every ``shards``-th entry (each
    reads the whole manifest, and parses it: a CSV row may span lines). Only for runners where one
    element's outputs stay in one partition whatever follows (Beam's Dask runner keeps a bag's partition
    count from its source: ``pipelines/analyze.py`` sets it there); elsewhere the shuffles after this
    stage spread one element's entries, and one read is cheapest."""

    def __init__(self, spec: str, staging: str, salt: str | None = None, shards: int = 1) -> None:
        super().__init__()
        if shards < 1:
            raise ValueError(f"shards must be >= 1, got {shards}")
        self._spec, self._staging, self._salt, self._shards = spec, staging, salt, shards

    def expand(self, begin: beam.pvalue.PBegin) -> beam.PCollection:
        shards = [InputShard(self._spec, k, self._shards) for k in range(self._shards)]
        return (
            begin
            | "InputSpec" >> beam.Create(shards)
            | "Expand" >> beam.ParDo(ExpandInputs(self._staging, self._salt))
        )


def ok_keys_in(uri: str) -> Iterator[tuple[InputKey, bool]]:
    """(identity, True) for every ``ok`` row of one committed videos file. Rows written before URIs were
    canonical are read in canonical form too (relative ones against this directory)."""
    table = fs.read_parquet(uri, ["video_uri", "post_id", "status"])
    for uri_, post_id, status in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True):
        if status == Status.OK:
            yield (canonical_uri(uri_), post_id), True


class OkKeys(beam.PTransform):
    """The identities with an ``ok`` row in a committed run under ``output`` (``--skip-existing``),
    read inside the job: the launcher lists nothing."""

    def __init__(self, output: str) -> None:
        super().__init__()
        self._output = output

    def expand(self, begin: beam.pvalue.PBegin) -> beam.PCollection:
        return (
            begin
            | "Output" >> beam.Create([self._output])
            | "CommittedVideos" >> beam.FlatMap(committed_files, "videos")
            | "SpreadFiles" >> Spread()
            | "OkRows" >> beam.FlatMap(ok_keys_in)
        )
