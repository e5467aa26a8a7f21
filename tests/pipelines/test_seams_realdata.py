"""No seams at window boundaries on real videos of at least 15 s (issue 14), through the whole analyze.

The real faces and voices of ``../shared/realdata/video`` (the 20 s Pexels clip and two composites of the
short real clips: ``datasets/real_videos.py``), analysed with the default options, with the bundle
``analyze`` ships and with a random-weights bundle (a stress case: its outputs barely move, so seams
would be most of its changes). Seam ratio (``analytics/seams.py``): mean |change| of consecutive steps
across a window start or end / the same elsewhere, pooled over the videos, for arousal and valence,
at the run's window boundaries (every 1 s) and at the 5 s boundaries where back-to-back windows used to
leave a sawtooth. Bar: <= 1.2 (issue 14). And the check can fail: with windows back to back again
(``--window-hop-s 5``) the same videos show the seams.

One clip's ratio at the 5 s boundaries rests on 3 pairs and swings by chance (benchmarks/seams.py prints
that spread), hence the pooling. Without ``../shared/realdata`` the tests skip, except under ``CI=true``
where they fail (as the espeak-ng tests do).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from emotrace.analytics.seams import Boundaries, SeamStats, lane_pairs, phase_ratios, seam_stats
from emotrace.datasets.real_videos import real_videos
from emotrace.features.acoustics import AUDIO_FEATURE_NAMES
from emotrace.model.bundle import make_untrained_bundle, save_bundle
from emotrace.pipelines import analyze
from emotrace.schemas.config import ANALYZE_WINDOW_HOP_S

pytestmark = [pytest.mark.pipeline, pytest.mark.media, pytest.mark.slow]
REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
BAR = 1.2
W, HOP = 25, round(ANALYZE_WINDOW_HOP_S / 0.2)  # the default bundle's 5 s windows of 0.2 s steps


def require_realdata() -> Path:
    if not (REALDATA / "video" / "pyfeat").is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{REALDATA} is missing in CI: CI has shared/ beside the checkout")
        pytest.skip(f"real videos not found at {REALDATA} (a clone without ../shared); CI runs this test")
    return REALDATA


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    work = tmp_path_factory.mktemp("seams")
    videos = real_videos(str(require_realdata()), str(work / "videos"))
    manifest = work / "manifest.csv"
    manifest.write_text("video_uri,post_id\n" + "".join(f"{v},{Path(v).stem}\n" for v in videos))
    untrained = work / "untrained.pt"
    save_bundle(make_untrained_bundle(AUDIO_FEATURE_NAMES, seed=0), str(untrained))
    out = {}
    for name, extra in (
        ("shipped", []),
        ("untrained", ["--model", str(untrained)]),
        ("untrained_back_to_back", ["--model", str(untrained), "--window-hop-s", "5"]),
    ):
        analyze.run(["--input", str(manifest), "--output", str(work / name), "--run-id", name, *extra])
        out[name] = ds.dataset(str(work / name / "traces"), format="parquet").to_table().to_pylist()
    return out


def _stats(rows: list[dict], boundaries: Boundaries) -> SeamStats:
    return seam_stats(lane_pairs(rows), boundaries)


def _explain(rows: list[dict], boundaries: Boundaries) -> str:
    per_clip = []
    for post in sorted({r["post_id"] for r in rows}):
        s = _stats([r for r in rows if r["post_id"] == post], boundaries)
        per_clip.append(
            f"{post}: A {s.ratio('arousal'):.2f} V {s.ratio('valence'):.2f} ({s.n_boundary} pairs)"
        )
    return "; ".join(per_clip)


@pytest.mark.parametrize("bundle", ["shipped", "untrained"])
@pytest.mark.parametrize("grid", ["run", "5s"])
def test_no_seams_on_real_videos(runs, bundle, grid):
    rows = runs[bundle]
    assert len({r["post_id"] for r in rows}) == 3 and len(rows) > 300
    boundaries = Boundaries(W, HOP) if grid == "run" else Boundaries(W, W)
    stats = _stats(rows, boundaries)
    # The lanes run through the boundaries, and only some of their pairs there are input switches (a
    # face or the voice coming or going, analytics/seams.py), which the ratio leaves out. More of them
    # fall on boundaries than elsewhere by construction: each GRID sentence of grid_speakers ends about
    # half a second before its clip's join, i.e. near a whole second, where the boundaries are; so a
    # speaking gate that closes one step earlier or later moves a pair in or out (62-63 of 70 on the
    # run grid; 9-10 of 13 at 5 s since issue 16's YIN, which moved one gate switch onto 5.0 s). The
    # ratio must still rest on two thirds of the boundary pairs.
    every = seam_stats(lane_pairs(rows, same_inputs=False), boundaries)
    assert every.n_boundary >= (60 if grid == "run" else 12)
    assert 3 * stats.n_boundary >= 2 * every.n_boundary
    for dim in ("arousal", "valence"):
        assert stats.other_mean(dim) > 0
        ratio = stats.ratio(dim)
        if grid == "run" or ratio <= BAR:
            assert ratio <= BAR, f"{dim}: {ratio:.2f}; {_explain(rows, boundaries)}"
            continue
        # The 5 s boundaries rest on 10-13 pairs: a trace without seams reads above 1.2 there at 12-25 %
        # of the grids shifted by 1-24 steps (docs/model.md). Above the bar, the true grid must then not
        # be among the 2 of 25 where the trace changes most; a seam puts it first (back to back: 3-5x,
        # the shifted grids <= 1.9).
        shifted = phase_ratios(lane_pairs(rows), W, dim)[1:]
        higher = int((shifted > ratio).sum())
        assert higher >= 2, (
            f"{dim}: {ratio:.2f}, above all but {higher} of 24 shifted grids; {_explain(rows, boundaries)}"
        )


def test_back_to_back_windows_show_the_seams_the_check_looks_for(runs):
    rows = runs["untrained_back_to_back"]
    stats = _stats(rows, Boundaries(W, W))
    for dim in ("arousal", "valence"):
        assert stats.ratio(dim) > 2 * BAR, f"{dim}: {stats.ratio(dim):.2f}"
        shifted = phase_ratios(lane_pairs(rows), W, dim)[1:]
        assert (shifted < stats.ratio(dim)).all()  # the true grid changes most: it fails both checks
