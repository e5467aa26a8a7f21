"""``--input`` read inside the job (pipeline tier, no media): the same entries as the pure expansion,
counted; ``--skip-existing``'s ok rows read from committed files and joined with the inputs; user ids
hashed in the job."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline

from emotrace.datasets.inputs import InputEntry, InputSource, InvalidRow, expand_inputs, has_inputs
from emotrace.schemas import naming
from emotrace.schemas.errors import ErrorCode
from emotrace.schemas.keys import key_of
from emotrace.schemas.lineage import hash_user_id
from emotrace.schemas.records import InputTally, VideoOutcome, VideoRef
from emotrace.transforms import io as fs
from emotrace.transforms.dedupe import DedupeInputs
from emotrace.transforms.inputs import OkKeys, ReadInputs, RunTotal

# A quoted field over two lines, a row without video_uri, a BOM, CRLF, a repeat, a U+2028 in a post id.
MANIFEST = (
    "\ufeffvideo_uri,post_id,user_id\r\n"
    'a.mp4,"two\nlines",u1\r\n'
    ",no_uri,u2\r\n"
    "b.mp4,b,u3\r\n"
    'a.mp4,"two\nlines",u1\r\n'
    "c.mp4,c\u2028x,\r\n"
)


def _collect(build: callable, path: Path) -> list:
    with BeamPipeline() as p:
        _ = build(p) | beam.combiners.ToList() | beam.Map(lambda xs: path.write_bytes(pickle.dumps(xs)))
    return pickle.loads(path.read_bytes())


def test_the_job_reads_what_the_pure_expansion_gives_and_counts_it(tmp_path: Path):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(MANIFEST.encode("utf-8"))
    staging = naming.staging_dir(str(tmp_path / "out"), "r1")
    got = _collect(lambda p: p | ReadInputs(str(manifest), staging), tmp_path / "got.pkl")
    entries = sorted((e for e in got if isinstance(e, InputEntry)), key=lambda e: e.ordinal)
    assert entries == expand_inputs(str(manifest), fs.INPUTS) and len(entries) == 5
    assert [e.source for e in entries] == ["m.csv:2", "m.csv:4", "m.csv:5", "m.csv:6", "m.csv:8"]
    assert isinstance(entries[1].item, InvalidRow) and entries[0].item.post_id == "two\nlines"
    assert [e for e in got if isinstance(e, InputTally)] == [InputTally(inputs=5)]
    assert json.loads(Path(staging, "_inputs.json").read_text()) == {"inputs": 5, "invalid": 1}
    assert RunTotal(staging)() == 5 and RunTotal(str(tmp_path / "nowhere"))() is None


def test_user_ids_are_hashed_in_the_job_when_asked(tmp_path: Path):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(MANIFEST.encode("utf-8"))
    staging = naming.staging_dir(str(tmp_path / "out"), "r1")
    got = _collect(lambda p: p | ReadInputs(str(manifest), staging, salt="pepper"), tmp_path / "got.pkl")
    users = {e.item.post_id: e.item.user_id for e in got if isinstance(e, InputEntry) and e.ordinal != 1}
    assert users == {
        "two\nlines": hash_user_id("u1", "pepper"),
        "b": hash_user_id("u3", "pepper"),
        "c\u2028x": None,
    }


def _committed_videos(out: Path, run_id: str, rows: list[tuple[str, str, str]]) -> None:
    """A committed run ``run_id`` whose videos file holds (video_uri, post_id, status) rows."""
    path = Path(naming.part_path(str(out), "videos", "2024-05-01", run_id, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    uris, posts, statuses = zip(*rows, strict=True)
    pq.write_table(pa.table({"video_uri": uris, "post_id": posts, "status": statuses}), path)
    fs.write_json(naming.marker_path(str(out), run_id), {"run_id": run_id, "files": []})


def test_already_ok_inputs_are_left_out_and_counted_repeats_get_their_row(tmp_path: Path):
    out = tmp_path / "out"
    # b was ok in a committed run, c failed there; a row of an uncommitted run does not count.
    _committed_videos(out, "r0", [("/v/b.mp4", "b", "ok"), ("/v/c.mp4", "c", "failed")])
    ghost = Path(naming.part_path(str(out), "videos", "2024-05-01", "ghost", 0))
    pq.write_table(pa.table({"video_uri": ["/v/c.mp4"], "post_id": ["c"], "status": ["ok"]}), ghost)
    refs = [VideoRef(f"/v/{n}.mp4", n) for n in "abcb"] + [VideoRef("/v/a.mp4", "a")]
    entries = [InputEntry(i, f"m.csv:{i + 2}", r) for i, r in enumerate(refs)]

    def build(p: beam.Pipeline) -> beam.PCollection:
        return p | beam.Create(entries) | DedupeInputs(p | OkKeys(str(out)))

    got = _collect(build, tmp_path / "got.pkl")
    assert sorted(r.post_id for r in got if isinstance(r, VideoRef)) == ["a", "c"]
    assert sum(t.already_ok for t in got if isinstance(t, InputTally)) == 2  # both rows of b
    (dup,) = [o for o in got if isinstance(o, VideoOutcome)]
    assert dup.error_code == ErrorCode.DUPLICATE_INPUT.value and dup.ref == refs[0]
    assert "m.csv:6 is the same input" in dup.error_message and "as m.csv:2" in dup.error_message
    assert key_of(dup.ref) == ("/v/a.mp4", "a")


def test_the_launcher_check_reads_no_further_than_the_first_input(tmp_path: Path):
    """has_inputs on a manifest whose second row is unreadable garbage: the first row answers."""
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(b'{"video_uri": "a.mp4"}\n' + b"\xff" * (2 << 20))
    reads: list[int] = []

    class Counting:
        def __init__(self, raw):
            self._raw = raw

        def readline(self, n: int = -1) -> bytes:
            line = self._raw.readline(n)
            reads.append(len(line))
            return line

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self._raw.close()

    source = InputSource(fs.INPUTS.match, fs.INPUTS.list_folder, lambda u: Counting(open(u, "rb")))  # noqa: SIM115
    assert has_inputs(str(manifest), source) and sum(reads) < 100
    (tmp_path / "empty.jsonl").write_bytes(b"\n\n")
    assert not has_inputs(str(tmp_path / "empty.jsonl"), fs.INPUTS)
