"""Every kind of bad input through the real pipeline: each ends as the row docs/reliability.md promises,
the job succeeds, inputs reconcile with rows, and crafted playlists open nothing."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from apache_beam.io.filesystems import FileSystems

from emotrace.pipelines import analyze
from emotrace.pipelines.summary import RunSummary
from tests.pipelines.bad_inputs import ALL_KINDS, FOLDER_KINDS, BadInput, build_corpus, manifest_line

pytestmark = [pytest.mark.pipeline, pytest.mark.media]

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
ROW = re.compile(
    r"^\|\s*`(?P<kind>[a-z0-9_]+)`\s*\|\s*(?P<status>ok|failed|skipped)\s*\|"
    r"\s*(?P<code>[A-Z_]+|-)\s*\|\s*(?P<partial>yes|no)\s*\|"
)


def documented_outcomes() -> dict[str, tuple[str, str | None, bool]]:
    """kind -> (status, error_code, partial) from the table in docs/reliability.md."""
    table = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            code = None if m["code"] == "-" else m["code"]
            table[m["kind"]] = (m["status"], code, m["partial"] == "yes")
    return table


class Listener:
    """A local TCP server that records every connection: a followed playlist would show up here."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def gcs_installed() -> bool:
    try:
        FileSystems.get_filesystem("gs://bucket/x")
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RunSummary, Listener, dict]]:
    work = tmp_path_factory.mktemp("bad inputs")  # a space in the folder name too
    listener = Listener()
    inputs = build_corpus(work, listener.port)
    if gcs_installed():  # with the gcp extra, gs:// would reach the network: that kind needs it absent
        inputs = [i for i in inputs if i.kind != "gs_without_gcp_extra"]
    manifest = work / "manifest.jsonl"
    manifest.write_bytes(b"".join(manifest_line(item) + b"\n" for item in inputs))
    out = work / "out"
    argv = ["--input", str(manifest), "--output", str(out), "--run-id", "bad", "--timeout", "60"]
    argv += ["--max-duration", "10", "--max-pixels", str(3840 * 2160), "--allowed-schemes", "file,gs,zz"]
    summary = analyze.run(argv)
    yield out, summary, listener, {kind_key(i, line): i.kind for line, i in enumerate(inputs, start=1)}
    listener.close()


def kind_key(item: BadInput, line: int) -> tuple[str, bool]:
    """How a videos row names its input: (post_id, is a duplicate); a manifest row that names no video
    has the manifest line as its post_id."""
    invalid = item.line is not None or not item.video_uri
    return (f"manifest.jsonl:{line}" if invalid else item.post_id, item.duplicate)


def test_every_kind_ends_as_documented(corpus_run):
    out, _, _, kinds = corpus_run
    rows = ds.dataset(str(out / "videos"), format="parquet").to_table().to_pylist()
    actual = {}
    for r in rows:
        kind = kinds[(r["post_id"], r["error_code"] == "DUPLICATE_INPUT")]
        actual[kind] = (r["status"], r["error_code"], bool(r["partial"]))
    expected = {k: v for k, v in documented_outcomes().items() if k not in FOLDER_KINDS}
    if not gcs_installed():
        assert "gs_without_gcp_extra" in actual
    else:
        expected.pop("gs_without_gcp_extra")
    assert len(expected) >= 20 and set(expected) == set(kinds.values())
    assert actual == expected


def test_the_documented_table_is_the_corpus():
    assert set(documented_outcomes()) == set(ALL_KINDS)


def test_inputs_reconcile_with_rows_and_job_succeeds(corpus_run):
    out, summary, _, kinds = corpus_run
    assert summary.reconciled and summary.n_inputs == len(kinds)
    assert not (out / "_staging").exists()  # published and committed
    rows = ds.dataset(str(out / "videos"), format="parquet").to_table()
    assert rows.num_rows == len(kinds)
    assert all(r["error_message"] for r in rows.to_pylist() if r["status"] != "ok")


def test_partial_traces_stop_where_decoding_stopped(corpus_run):
    out, _, _, _ = corpus_run
    table = ds.dataset(str(out / "videos"), format="parquet").to_table()
    videos = {r["post_id"]: r for r in table.to_pylist()}
    traces = ds.dataset(str(out / "traces"), format="parquet").to_table().to_pandas()
    cut = videos["truncated_middle"]
    assert cut["partial"] and "decoded" in cut["error_message"]
    rows = traces[traces.post_id == "truncated_middle"]
    assert 0 < rows.t_s.max() < cut["duration_s"] - 0.4 and len(rows) == cut["n_steps"]


def test_playlists_and_http_inputs_open_no_connection(corpus_run):
    _, _, listener, _ = corpus_run
    assert listener.connections == 0
