"""The analyze pipeline writes the same rows on four runners (issue 9: CI portability; issue 16: Dask).

The reference is the plain DirectRunner with one worker. The same sample posts then go through
(a) the PortableRunner against Beam's Python job service (the runner API path Flink and Dataflow Runner v2
    use: the pipeline is serialised to a proto, submitted over gRPC, and run by a separate job process with
    the SDK harness in this process, ``--environment_type=LOOPBACK``),
(b) the DirectRunner with two worker *processes* (``multi_processing``), which catches DoFns, handlers and
    configs that only work when they share memory with the launcher or are not picklable, and with two
    worker *threads* (``multi_threading``; Dataflow runs several harness threads per SDK process),
    which catches shared state that is not thread-safe,
(c) Beam's Dask runner on a ``dask.distributed`` LocalCluster of two worker processes: a distributed
    engine with its own scheduler, serialisation and bundle semantics (docs/deploy.md, "Dask").
The rows of traces, tracks and videos are compared sorted, every column but ``run_id``, exactly.
A Flink cluster cannot run here (its job-server jar comes from Maven at submit time, DEPENDENCIES.md trap 7);
the job service exercises the same portable path up to the runner itself.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import distributed
import pandas as pd
import pyarrow.dataset as ds
import pytest

from emotrace.pipelines import analyze

pytestmark = [pytest.mark.pipeline, pytest.mark.media]

JOB_SERVICE_MODULE = "apache_beam.runners.portability.local_job_service_main"
TRACE_KEY = ["post_id", "track_id", "t_s"]
TRACE_EXACT = ["post_id", "user_id", "track_id", "t_s", "step_s", "face_present", "audio_present"]
TRACE_CLOSE = [
    "arousal",
    "valence",
    "attn_face_arousal",
    "attn_audio_arousal",
    "attn_face_valence",
    "attn_audio_valence",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"job service exited early with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"job service did not listen on port {port} within {timeout_s} s")


@contextlib.contextmanager
def job_service(log_path: Path) -> Iterator[int]:
    """Beam's Python job service on a free local port, stopped (and waited for) on exit."""
    port = _free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", JOB_SERVICE_MODULE, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_port(port, proc, timeout_s=60)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


Tables = dict[str, pd.DataFrame]
# Every column is compared, exactly, except run_id: each run is named apart. The other lineage columns
# (model_version, pipeline_version, config_hash) are the same by construction: same code, model, options.
# Exact, floats included: a batch is windows of one video segment (transforms/extract.py), so the model
# sees the same batches on every runner, however the runner bundles elements.
DIFFERS = ["run_id"]
SORT_KEYS = {
    "traces": ["post_id", "track_id", "t_s"],
    "tracks": ["post_id", "track_id"],
    "videos": ["post_id"],
}


def _run(sample_posts_dir: Path, out: Path, run_id: str, beam_args: list[str]) -> Tables:
    summary = analyze.run(
        [
            "--input",
            str(sample_posts_dir / "manifest.csv"),
            "--output",
            str(out),
            "--run-id",
            run_id,
            *beam_args,
        ]
    )
    assert summary.reconciled and summary.by_status == {"ok": 3}, summary.render()
    tables = {t: ds.dataset(str(out / t), format="parquet").to_table().to_pandas() for t in SORT_KEYS}
    assert all((df.run_id == run_id).all() for df in tables.values())
    return tables


def canonical(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without the columns that differ by run, rows sorted by the table's key (track_id is null
    on face-less steps: -1 keeps the sort total)."""
    key = SORT_KEYS[table]
    out = df.drop(columns=DIFFERS)
    if "track_id" in out:
        out = out.assign(track_id=out.track_id.fillna(-1).astype(int))
    return out.sort_values(key).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(sample_posts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Tables:
    out = tmp_path_factory.mktemp("direct")
    return _run(sample_posts_dir, out, "ref", ["--runner=DirectRunner", "--direct_num_workers=1"])


def assert_same_rows(got: Tables, want: Tables) -> None:
    traces = canonical("traces", want["traces"])
    assert len(traces) > 0 and not traces.duplicated(TRACE_KEY).any()
    assert set(TRACE_EXACT + TRACE_CLOSE) <= set(traces.columns)
    assert len(want["tracks"]) > 0  # the sample posts have faces: tracks are compared, not just empty
    for table in SORT_KEYS:
        # every column, including ones added after this test; floats too, to the bit
        pd.testing.assert_frame_equal(canonical(table, got[table]), canonical(table, want[table]), obj=table)


def test_portable_runner_on_python_job_service_matches_direct(
    sample_posts_dir: Path, tmp_path: Path, reference: Tables
) -> None:
    with job_service(tmp_path / "job_service.log") as port:
        got = _run(
            sample_posts_dir,
            tmp_path / "out",
            "portable",
            ["--runner=PortableRunner", f"--job_endpoint=localhost:{port}", "--environment_type=LOOPBACK"],
        )
    assert_same_rows(got, reference)


@pytest.mark.parametrize("mode", ["multi_processing", "multi_threading"])
def test_multi_worker_direct_runner_matches_direct(
    sample_posts_dir: Path, tmp_path: Path, reference: Tables, mode: str
) -> None:
    """Two worker processes (nothing shared with the launcher: DoFns, handlers and configs must pickle),
    or two worker threads sharing one process's detector, model and face memo (as Dataflow's harness
    threads do, several per SDK process): exactly the rows of one worker."""
    got = _run(
        sample_posts_dir,
        tmp_path / "out",
        mode.split("_")[1],
        ["--runner=DirectRunner", "--direct_num_workers=2", f"--direct_running_mode={mode}"],
    )
    assert_same_rows(got, reference)


DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"  # Beam's short names omit it


@pytest.fixture
def dask_cluster() -> Iterator[distributed.LocalCluster]:
    """Two worker processes, one thread each (DEPENDENCIES.md, "Verified 2026-11-30"); closed after.
    The environment is put back too: starting the cluster sets ``MALLOC_TRIM_THRESHOLD_`` in this
    process's environment for its workers (Dask's ``pre-spawn-environ``) and leaves it, which turns off
    glibc's dynamic mmap threshold in every later subprocess (tests/media/test_malloc.py observes it)."""
    environ = dict(os.environ)
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # any free port: no clash
    )
    try:
        yield cluster
    finally:
        cluster.close()
        os.environ.clear()
        os.environ.update(environ)


def test_dask_runner_on_a_local_cluster_matches_direct(
    sample_posts_dir: Path, tmp_path: Path, reference: Tables, dask_cluster: distributed.LocalCluster
) -> None:
    with distributed.Client(dask_cluster) as client:
        workers = client.run(os.getpid)
        assert len(workers) == 2 and os.getpid() not in workers.values()  # two processes, not this one
        got = _run(
            sample_posts_dir,
            tmp_path / "out",
            "dask",
            [f"--runner={DASK_RUNNER}", f"--dask_client_address={dask_cluster.scheduler_address}"],
        )
        # The stages ran in the cluster's worker processes (this process imports them too, so ask them).
        ran = client.run(lambda: "emotrace.transforms.extract" in sys.modules)
        assert any(ran.values()), ran
    assert_same_rows(got, reference)


def test_job_service_is_stopped_after_use(tmp_path: Path) -> None:
    """The fixture must not leak a server into CI: after the block the port is free again."""
    with job_service(tmp_path / "js.log") as port, socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # raises OSError if the service still held it
