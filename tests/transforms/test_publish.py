"""The publication protocol on a local folder (no pipeline): publish, finish a cut-short publication,
roll back, retract, adopt a folder written before commit markers, and read committed runs only."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emotrace.schemas import naming
from emotrace.schemas.records import StagedFile
from emotrace.transforms import publish
from emotrace.transforms.faults import FaultPlan, InjectedFault

DAYS = ["2024-05-01", "2024-05-02"]


def _stage(out: Path, run_id: str, root: Path | None = None) -> list[str]:
    """Two videos files of ``run_id`` under its staging folder (or ``root``)."""
    root = root or Path(naming.staging_dir(str(out), run_id))
    rels = []
    for day in DAYS:
        path = Path(naming.part_path(str(root), "videos", day, run_id, 0))
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"run_id": [run_id], "status": ["ok"]}), path)
        rels.append(str(path.relative_to(root)))
    return rels


def _visible(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in (out / "videos").rglob("*.parquet"))


def test_publish_moves_every_staged_file_then_commits(tmp_path: Path):
    out = tmp_path / "out"
    rels = _stage(out, "r1")
    publish.publish(str(out), "r1", {"inputs": 2})
    assert _visible(out) == sorted(rels) and not (out / "_staging").exists()
    marker = json.loads((out / "_runs" / "r1.json").read_text())
    assert marker["files"] == rels and marker["inputs"] == 2 and marker["run_id"] == "r1"
    assert publish.committed_runs(str(out)) == {"r1"}
    before = (out / "_runs" / "r1.json").read_text()
    publish.publish(str(out), "r1", {"inputs": 99})  # a retried stage: nothing changes
    assert (out / "_runs" / "r1.json").read_text() == before


def test_a_cut_short_publication_is_invisible_then_finished_by_the_next_run(tmp_path: Path):
    out = tmp_path / "out"
    _stage(out, "r1")
    _stage(out, "r2")
    publish.publish(str(out), "r2", {})
    with pytest.raises(InjectedFault):
        publish.publish(str(out), "r1", {}, FaultPlan("publish", str(tmp_path / "hits")))  # after 1 rename
    assert len(_visible(out)) == 3  # one of r1's two files is in place, but r1 is not committed
    assert [naming.run_of_file(f) for f in publish.committed_files(str(out), "videos")] == ["r2", "r2"]
    assert publish.recover(str(out)) == ["finished publishing run r1"]
    assert len(publish.committed_files(str(out), "videos")) == 4 and not (out / "_staging").exists()
    assert publish.recover(str(out)) == []


def test_a_publication_whose_staged_file_vanished_is_rolled_back(tmp_path: Path):
    out = tmp_path / "out"
    rels = _stage(out, "r1")
    with pytest.raises(InjectedFault):
        publish.publish(str(out), "r1", {}, FaultPlan("publish", str(tmp_path / "hits")))
    (Path(naming.staging_dir(str(out), "r1")) / rels[1]).unlink()  # deleted by hand
    publish.recover(str(out))
    assert _visible(out) == [] and publish.committed_runs(str(out)) == set()


def test_retract_takes_the_marker_first_and_is_finished_by_the_next_run(tmp_path: Path):
    out = tmp_path / "out"
    _stage(out, "day")
    publish.publish(str(out), "day", {})
    _stage(out, "day-2")
    publish.publish(str(out), "day-2", {})
    with pytest.raises(InjectedFault):
        publish.retract(str(out), "day", FaultPlan("retract", str(tmp_path / "hits")))
    assert publish.committed_runs(str(out)) == {"day-2"}  # "day" stopped counting at once
    publish.recover(str(out))
    assert {naming.run_of_file(f) for f in _visible(out)} == {"day-2"} and len(_visible(out)) == 2


def test_a_folder_written_before_commit_markers_keeps_what_it_had(tmp_path: Path):
    out = tmp_path / "out"
    _stage(out, "old", root=out)  # files in place, no _runs, no _staging
    assert len(publish.committed_files(str(out), "videos")) == 2  # readers count it as before
    assert publish.recover(str(out)) == ["adopted run old, written before commit markers"]
    assert json.loads((out / "_runs" / "old.json").read_text())["legacy"] is True
    _stage(out, "ghost", root=out)  # from now on, files without a marker do not count
    assert {naming.run_of_file(f) for f in publish.committed_files(str(out), "videos")} == {"old"}
    assert publish.recover(str(out)) == []


def _staged(out: Path, run_id: str, day: str, statuses: list[str]) -> StagedFile:
    """A writer's file (a staged name) of videos rows with ``statuses``."""
    uri = naming.staged_part_path(naming.staging_dir(str(out), run_id), "videos", day, uuid.uuid4().hex)
    Path(uri).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"run_id": [run_id] * len(statuses), "status": statuses}), uri)
    return StagedFile("videos", day, uri)


def test_an_unreconciled_run_is_never_published(tmp_path: Path):
    out = tmp_path / "out"
    files = (_staged(out, "r1", DAYS[0], ["ok"]), _staged(out, "r1", DAYS[1], ["failed"]))
    with pytest.raises(publish.UnreconciledRun, match="3 inputs but 2 videos rows"):
        publish.commit_run(publish.Ledger(files, 3, 0), str(out), "r1", None)
    assert _visible(out) == [] and publish.committed_runs(str(out)) == set()
    assert publish.read_ledger(str(out), "r1")["reconciled"] is False
    assert publish.commit_run(publish.Ledger(files, 5, 3), str(out), "r1", None) == "r1"
    marker = json.loads((out / "_runs" / "r1.json").read_text())
    assert marker["by_status"] == {"ok": 1, "failed": 1} and marker["rows"]["videos"] == 2
    assert marker["inputs"] == 2 and marker["already_ok"] == 3
    assert _visible(out) == [f"videos/posted_date={d}/part-r1-00000.parquet" for d in DAYS]


def test_only_reported_files_are_published_with_shards_in_staged_name_order(tmp_path: Path):
    """Two files of one partition get shards 0 and 1 by their staged names; a stray file a failed
    bundle left (never reported) is not published and goes with the staging folder."""
    out = tmp_path / "out"
    files = sorted([_staged(out, "r1", DAYS[0], ["ok"]), _staged(out, "r1", DAYS[0], ["ok", "ok"])])
    stray = _staged(out, "r1", DAYS[0], ["ok"])
    rows = [pq.read_table(f.uri).num_rows for f in files]
    publish.commit_run(publish.Ledger(tuple(reversed(files)), 3, 0), str(out), "r1", None)
    day = out / "videos" / f"posted_date={DAYS[0]}"
    assert sorted(p.name for p in day.iterdir()) == ["part-r1-00000.parquet", "part-r1-00001.parquet"]
    assert [pq.read_table(day / f"part-r1-0000{i}.parquet").num_rows for i in (0, 1)] == rows
    assert not Path(stray.uri).exists() and not (out / "_staging").exists()
    intent = publish.final_moves(files, naming.staging_dir(str(out), "r1"), "r1")
    assert [dst for _, dst in intent] == [
        f"videos/posted_date={DAYS[0]}/part-r1-00000.parquet",
        f"videos/posted_date={DAYS[0]}/part-r1-00001.parquet",
    ]


def test_a_run_with_nothing_to_do_publishes_nothing_and_leaves_its_counts(tmp_path: Path):
    out = tmp_path / "out"
    publish.commit_run(publish.Ledger((), 4, 4), str(out), "r1", None)
    assert publish.committed_runs(str(out)) == set()
    assert publish.read_ledger(str(out), "r1") == {
        "inputs": 0, "already_ok": 4, "by_status": {}, "rows": {"traces": 0, "videos": 0, "tracks": 0},
        "reconciled": True,
    }  # fmt: skip
    # Where no launcher read it (a flex template), the next run's recovery removes it.
    assert publish.recover(str(out)) == ["removed the staging folder of run r1, which had nothing to do"]
    assert not (out / "_staging").exists()


def test_a_cut_short_publication_of_staged_names_is_finished_by_the_next_run(tmp_path: Path):
    out = tmp_path / "out"
    files = (_staged(out, "r1", DAYS[0], ["ok"]), _staged(out, "r1", DAYS[1], ["ok"]))
    with pytest.raises(InjectedFault):
        publish.commit_run(
            publish.Ledger(files, 2, 0), str(out), "r1", FaultPlan("publish", str(tmp_path / "h"))
        )
    assert publish.committed_runs(str(out)) == set()
    assert publish.recover(str(out)) == ["finished publishing run r1"]
    assert _visible(out) == [f"videos/posted_date={d}/part-r1-00000.parquet" for d in DAYS]
