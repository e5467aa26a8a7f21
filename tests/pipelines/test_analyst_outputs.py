"""Analyst outputs on real pipeline output (pipeline tier): every query in docs/queries.md, the
aggregate pipeline, and both plots. One analyze run and two aggregate runs serve the whole module."""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from PIL import Image

from emotrace.analytics.plots import plane_figure, save, trace_figure
from emotrace.pipelines import aggregate, analyze, plot
from emotrace.schemas.tables import POST_AGGREGATES, USER_AGGREGATES
from tests.pipelines.query_oracles import ORACLES

pytestmark = [pytest.mark.pipeline, pytest.mark.media]

QUERIES_MD = Path(__file__).resolve().parents[2] / "docs" / "queries.md"
DOC = QUERIES_MD.read_text(encoding="utf-8")
VIEWS, *SQL = re.findall(r"```sql\n(.*?)```", DOC, re.S)  # the first block: views over committed runs
PYTHON = re.findall(r"```python\n(.*?)```", DOC, re.S)


@pytest.fixture(scope="module")
def out(sample_posts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("analyst")
    for name in os.listdir(sample_posts_dir):
        shutil.copy(sample_posts_dir / name, work / name)
    (work / "broken.mp4").write_bytes(np.random.default_rng(7).bytes(20_000))  # one failure to query
    with open(work / "manifest.csv", "a", encoding="utf-8") as f:
        f.write("broken.mp4,broken,user_b,2024-05-03T10:00:00Z\n")
    out = work / "out"
    analyze.run(["--input", str(work / "manifest.csv"), "--output", str(out), "--run-id", "q1"])
    for by in ("post", "user"):
        aggregate.run(["--input", str(out), "--by", by, "--output", str(out), "--run-id", f"agg-{by}"])
    return out


def _in(out: Path, text: str) -> str:
    """The docs say ``out/...``; point them at this module's output folder."""
    return re.sub(r"(['\"])out/", lambda m: f"{m.group(1)}{out}/", text)


def _sections() -> dict[str, list[str]]:
    """Each ``## heading`` of docs/queries.md -> the SQL blocks under it, in order."""
    found: dict[str, list[str]] = {}
    for part in re.split(r"^## ", DOC, flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        blocks = re.findall(r"```sql\n(.*?)```", body, re.S)
        if blocks:
            found[heading.strip()] = blocks
    return found


SECTIONS = {h: b for h, b in _sections().items() if not h.startswith("Start with these views")}
CASES = [(h, i) for h, blocks in SECTIONS.items() for i in range(len(blocks))]


def test_docs_hold_queries_for_each_question():
    assert len(SQL) >= 8 and len(PYTHON) == 2
    for topic in ("Top posts by arousal", "valence by month", "Coverage", "Failures by error code"):
        assert topic in DOC
    # Every documented query has an independent oracle (tests/pipelines/query_oracles.py), and no more.
    assert {h: len(b) for h, b in SECTIONS.items()} == {h: len(o) for h, o in ORACLES.items()}


@pytest.mark.parametrize(("heading", "i"), CASES, ids=[f"{h[:24]}-{i}" for h, i in CASES])
def test_every_documented_query_returns_what_it_says(out, heading, i):
    """The query's rows equal an independent pandas computation from the Parquet files (committed runs
    only), column for column; order-insensitive, since ties may come in either order."""
    con = duckdb.connect()
    con.execute(_in(out, VIEWS))
    got = con.execute(_in(out, SECTIONS[heading][i])).fetchdf()
    want = ORACLES[heading][i](out).reset_index(drop=True)
    assert len(want) > 0, heading  # the fixture's output holds something for every question
    assert list(want.columns) == [c for c in got.columns if c in set(want.columns)], (
        got.columns,
        want.columns,
    )
    got = got[list(want.columns)]
    assert len(got) == len(want), (got, want)
    key = list(want.columns)
    norm = [_normalised(df).sort_values(key, kind="stable").reset_index(drop=True) for df in (got, want)]
    pd.testing.assert_frame_equal(norm[0], norm[1], check_dtype=False, atol=1e-5, rtol=1e-5)


def _normalised(df: pd.DataFrame) -> pd.DataFrame:
    """Dates and timestamps as dates, so DuckDB's and pandas' types compare."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]) or c in ("month", "posted_date"):
            out[c] = pd.to_datetime(out[c]).dt.date
    return out


def test_the_documented_reads_count_committed_runs_only(out, tmp_path):
    """A file of a run without its commit marker (a publication cut short) is in the table folder but
    not in the views, the pandas read, or what `emotrace aggregate` and `plot` read."""
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    src = next((copy / "traces").rglob("part-q1-*.parquet"))
    table = pq.read_table(src)
    table = table.set_column(
        table.schema.get_field_index("run_id"), "run_id", pa.array(["ghost"] * len(table))
    )
    pq.write_table(table, src.with_name("part-ghost-00000.parquet"))
    con = duckdb.connect()
    con.execute(_in(copy, VIEWS))
    assert con.execute("SELECT count(*) FROM traces WHERE run_id = 'ghost'").fetchone() == (0,)
    (raw,) = con.execute(
        f"SELECT count(*) FROM read_parquet('{copy}/traces/**/*.parquet') WHERE run_id = 'ghost'"
    ).fetchone()
    assert raw == len(table) > 0
    scope: dict = {}
    exec(compile(_in(copy, PYTHON[0]), str(QUERIES_MD), "exec"), scope)
    assert "ghost" not in set(scope["traces"].run_id)
    assert {r["run_id"] for r in plot.read_rows(str(copy), "post_id", "talking_head")} == {"q1"}


@pytest.mark.parametrize("code", PYTHON, ids=["pandas", "pyarrow_dataset"])
def test_documented_python_reads_return_rows(out, code):
    scope: dict = {}
    exec(compile(_in(out, code), str(QUERIES_MD), "exec"), scope)  # our own docs, nothing else
    assert len(scope["result"]) > 0


def test_post_aggregates_agree_with_the_traces(out):
    table = ds.dataset(str(out / "post_aggregates"), format="parquet").to_table()
    assert table.schema.equals(POST_AGGREGATES, check_metadata=False)
    got = {r["post_id"]: r for r in table.to_pylist()}
    assert set(got) == {"talking_head", "silent_face", "no_face"}  # the broken post wrote no trace rows
    con = duckdb.connect()
    for post, row in got.items():
        # The default lane is one row per step: the primary face's row where it is seen, else the step's
        # face-less row (a voice no visible face speaks has a face-less row beside the face rows).
        seconds, arousal = con.execute(
            "WITH lane AS (SELECT *, row_number() OVER (PARTITION BY t_s ORDER BY is_primary DESC, "
            "track_id NULLS FIRST) AS pick FROM read_parquet(?) WHERE post_id = ? "
            "AND (is_primary OR track_id IS NULL)) "
            "SELECT sum(round(step_s, 6)), sum(arousal * round(step_s, 6)) / sum(round(step_s, 6)) "
            "FROM lane WHERE pick = 1",
            [f"{out}/traces/**/*.parquet", post],
        ).fetchone()
        assert row["seconds_analysed"] == pytest.approx(seconds) and seconds == pytest.approx(8.0)
        assert row["arousal_mean"] == pytest.approx(arousal, abs=1e-6)
        assert row["arousal_p10"] <= row["arousal_median"] <= row["arousal_p90"]
        assert row["tracks"] == "primary" and row["run_id"] == "agg-post" and row["source_run_ids"] == "q1"
    assert got["no_face"]["face_coverage"] == 0 and got["silent_face"]["audio_coverage"] == 0


def test_user_aggregates_pool_each_users_posts(out):
    table = ds.dataset(str(out / "user_aggregates"), format="parquet").to_table()
    assert table.schema.equals(USER_AGGREGATES, check_metadata=False)
    got = {r["user_id"]: r for r in table.to_pylist()}
    assert got["user_a"]["n_posts"] == 2 and got["user_b"]["n_posts"] == 1
    assert got["user_a"]["seconds_analysed"] == pytest.approx(16.0)
    # Audio coverage counts the voice on the user's posts' default lanes only (one row per step: the
    # primary face's own row where it is seen, and a face that is not speaking gets no audio), never
    # through a listener's row: the share of those rows with audio_present, over user_a's posts (0 when
    # no row has it: talking_head's photo never moves its lips, so its voice is on face-less rows that
    # its face's rows, seen at every step, take the place of).
    (share,) = (
        duckdb.connect()
        .execute(
            "WITH lane AS (SELECT *, row_number() OVER (PARTITION BY post_id, t_s ORDER BY is_primary DESC, "
            "track_id NULLS FIRST) AS pick FROM read_parquet(?) WHERE user_id = 'user_a' "
            "AND (is_primary OR track_id IS NULL)) "
            "SELECT coalesce(sum(step_s) FILTER (WHERE audio_present), 0) / sum(step_s) "
            "FROM lane WHERE pick = 1",
            [f"{out}/traces/**/*.parquet"],
        )
        .fetchone()
    )
    assert got["user_a"]["audio_coverage"] == pytest.approx(share) and share < 0.5  # silent_face: no sound


def test_plot_post_renders_a_png_of_the_tables_values(out, tmp_path):
    png = tmp_path / "trace.png"
    assert plot.main(["--input", str(out), "--post-id", "talking_head", "-o", str(png)]) == 0
    with Image.open(io.BytesIO(png.read_bytes())) as img:
        assert img.format == "PNG" and img.width >= 600 and img.height >= 400
        assert len(set(img.convert("L").getdata())) > 16  # drawn, not blank
    rows = plot.read_rows(str(out), "post_id", "talking_head")
    fig = trace_figure(rows)
    lines = {line.get_label(): line for line in fig.axes[0].lines}
    t = np.asarray(lines["arousal"].get_xdata(), dtype=float)
    keep = ~np.isnan(t)
    # The primary lane: per step, the primary face's row where it is seen, else the face-less row.
    by_step: dict[float, dict] = {}
    for r in sorted(rows, key=lambda r: not r["is_primary"]):
        if r["is_primary"] or r["track_id"] is None:
            by_step.setdefault(r["t_s"], r)
    expected = sorted((t, r["arousal"]) for t, r in by_step.items())
    assert len(expected) == 40  # 8 s at 0.2 s
    np.testing.assert_allclose(t[keep], [e[0] for e in expected])
    arousal = np.asarray(lines["arousal"].get_ydata(), dtype=float)[keep]
    np.testing.assert_allclose(arousal, [e[1] for e in expected])
    attn = {line.get_label(): line for line in fig.axes[2].lines}
    assert set(attn) >= {"face weight, arousal", "face weight, valence"}
    save(fig, str(tmp_path / "again.png"))


def test_plot_user_draws_each_post_at_its_mean(out, tmp_path):
    png = tmp_path / "plane.png"
    assert plot.main(["--input", str(out), "--user-id", "user_a", "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = plane_figure(plot.read_rows(str(out), "user_id", "user_a"))
    points = fig.axes[0].collections[-1].get_offsets()
    table = ds.dataset(str(out / "post_aggregates"), format="parquet").to_table().to_pylist()
    means = sorted((r["valence_mean"], r["arousal_mean"]) for r in table if r["user_id"] == "user_a")
    np.testing.assert_allclose(sorted(map(tuple, np.asarray(points))), means, atol=1e-9)
    save(fig, str(tmp_path / "again.png"))


def test_aggregate_refuses_a_folder_without_traces(tmp_path):
    with pytest.raises(SystemExit, match="no traces under"):
        aggregate.run(["--input", str(tmp_path), "--by", "post", "--output", str(tmp_path / "agg")])
    assert not (tmp_path / "agg").exists()
