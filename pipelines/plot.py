"""``emotrace plot``: a post's trace over time (``--post-id``) or a user's posts on the valence-arousal
plane (``--user-id``), read from an analyze output folder and drawn by ``emotrace.analytics.plots``."""

from __future__ import annotations

import argparse

import pyarrow.dataset as ds

from emotrace.analytics.aggregate import Row
from emotrace.transforms.publish import committed_files

# Every column the figures need; reading only these keeps a user's years of traces cheap.
COLUMNS = ["post_id", "user_id", "track_id", "t_s", "step_s", "arousal", "valence", "face_present",
           "audio_present", "attn_face_arousal", "attn_face_valence", "model_version", "run_id"]  # fmt: skip


def read_rows(input_dir: str, column: str, value: str) -> list[Row]:
    """Trace rows where ``column == value`` (every committed run and partition; the figures keep the
    latest run)."""
    files = committed_files(input_dir, "traces")
    if not files:
        return []
    dataset = ds.dataset(files, format="parquet")
    columns = COLUMNS + (["is_primary"] if "is_primary" in dataset.schema.names else [])
    return dataset.to_table(columns=columns, filter=ds.field(column) == value).to_pylist()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="emotrace plot", description=__doc__)
    parser.add_argument("--input", required=True, help="an analyze output folder (holds traces/)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--post-id", help="draw this post's arousal, valence and attention over time")
    which.add_argument("--user-id", help="draw this user's posts on the valence-arousal plane")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--dpi", type=int, default=100)
    args = parser.parse_args(argv)

    try:
        from emotrace.analytics import plots  # matplotlib loads only for this verb
    except ImportError as exc:
        raise SystemExit(f"emotrace plot needs matplotlib ({exc}): pip install 'emotrace[plot]'") from exc

    column, value = ("post_id", args.post_id) if args.post_id else ("user_id", args.user_id)
    rows = read_rows(args.input, column, value)
    if not rows:
        parser.error(f"no trace rows with {column} = {value!r} under {args.input}/traces")
    fig = plots.trace_figure(rows) if args.post_id else plots.plane_figure(rows)
    plots.save(fig, args.output, dpi=args.dpi)
    print(f"wrote {args.output}")
    return 0
