"""Command-line options of each pipeline, turned into frozen configs at the edge.

Beam's own options (runner, workers, project, ...) pass through untouched: every argument the
emotrace parser does not know is handed to ``PipelineOptions``.
"""

from __future__ import annotations

import argparse
import secrets
from dataclasses import replace
from datetime import UTC, datetime

from emotrace.schemas.config import AnalyzeConfig, DecodeConfig, FaceConfig, GridConfig


def new_run_id() -> str:
    """Sortable and unique: ``20261125T140501Z-3fa9c1``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def add_analyze_args(parser: argparse.ArgumentParser) -> None:
    d, f = DecodeConfig(), FaceConfig()
    parser.add_argument("--input", required=True, help="manifest (.csv/.jsonl), folder, or glob of videos")
    parser.add_argument("--output", required=True, help="output folder (local or gs://)")
    parser.add_argument(
        "--model", default=None, help="model bundle path (local or gs://); default: demo bundle"
    )
    parser.add_argument(
        "--run-id", default=None, help="names this run's files and rows (default: time + random)"
    )
    parser.add_argument(
        "--frame-rate", type=float, default=d.frame_rate_hz, help="frames analysed per second"
    )
    parser.add_argument(
        "--step", type=float, default=None, help="trace step in seconds (default: the model bundle's step)"
    )
    parser.add_argument(
        "--max-side",
        type=int,
        default=d.max_side_px,
        help="frames decoded at most this large on their longest side (and at least 640 px)",
    )
    parser.add_argument(
        "--decode-scale",
        type=float,
        default=d.scale,
        help="frames decoded at this fraction of the video's size, within 640 px and --max-side: 720p "
        "at 854x480, 1080p at 1280x720 (1: full size, for faces under 20 px)",
    )
    parser.add_argument(
        "--face-threshold", type=float, default=f.score_threshold, help="RetinaFace score threshold"
    )
    parser.add_argument(
        "--min-face",
        type=int,
        default=f.min_face_px,
        help="smallest face found: shorter side of its box in the video's own pixels (before decoding)",
    )
    parser.add_argument(
        "--face-max-side",
        type=int,
        default=f.detect_max_side_px,
        help="longest side of the full-frame face pass's input (default: where a --min-face face is 10 px, "
        "at least 640; small faces are then confirmed on zoomed crops; docs/faces.md)",
    )
    parser.add_argument(
        "--face-backend", default=f.backend, choices=["onnxruntime", "torch", "auto"], help="detector runtime"
    )
    parser.add_argument("--face-device", default=f.device, help="torch device of the face detector")
    parser.add_argument("--face-batch", type=int, default=f.detect_batch, help="frames per detector call")
    parser.add_argument(
        "--face-detect-every",
        type=int,
        default=f.detect_every_frames,
        help="full-frame face detection every k-th analysis frame, small regions around faces between "
        "(1: every frame)",
    )
    parser.add_argument(
        "--face-weights",
        default=f.weights_uri,
        help="RetinaFace ONNX (local or gs://, e.g. ResNet50; docs/faces.md); default: MobileNet0.25",
    )
    parser.add_argument(
        "--timeout", type=float, default=d.timeout_s, help="per-video ffmpeg timeout, seconds"
    )
    parser.add_argument(
        "--max-duration", type=float, default=d.max_duration_s, help="longer videos are skipped"
    )
    parser.add_argument(
        "--segment-s",
        type=float,
        default=AnalyzeConfig().segments.segment_s,
        help="videos longer than this many seconds are cut into segments of about this length that run "
        "as separate elements, so one long video spreads over workers (0: never cut)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="model windows per inference batch (8 on CPU: 32 costs as much CPU per window and ~160 MB more "
        "peak memory, issue 6; 64-256 on a GPU)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] for the model")
    parser.add_argument(
        "--inference-hints",
        default=None,
        help="Beam resource hints for the model stage only, as key=value pairs separated by commas (e.g. "
        "accelerator=type:nvidia-l4;count:1;install-nvidia-driver): the stage is split from decoding by a "
        "Reshuffle so a right-fitting runner gives only it the GPU workers",
    )
    parser.add_argument(
        "--hash-user-ids",
        action="store_true",
        help="write salted sha256 pseudonyms instead of user ids (salt from $EMOTRACE_USER_ID_SALT)",
    )
    parser.add_argument(
        "--max-pixels", type=int, default=d.max_pixels, help="videos with larger frames are skipped"
    )
    parser.add_argument(
        "--allowed-schemes",
        default=",".join(d.allowed_schemes),
        help="comma-separated URI schemes inputs may use ('file' = local paths); others fail",
    )
    rerun = parser.add_mutually_exclusive_group()
    rerun.add_argument(
        "--skip-existing",
        action="store_true",
        help="process only inputs without an 'ok' row in OUTPUT/videos (from any earlier run)",
    )
    rerun.add_argument(
        "--force", action="store_true", help="process all inputs; with --run-id, replace that run's files"
    )


def analyze_config(
    args: argparse.Namespace, bundle_step_s: float, window_steps: int, crop_px: int
) -> AnalyzeConfig:
    """The bundle fixes the grid it was trained for; a different ``--step`` is refused, not ignored."""
    if args.step is not None and abs(args.step - bundle_step_s) > 1e-9:
        raise SystemExit(
            f"--step {args.step} differs from the model bundle's step {bundle_step_s}: the model was trained "
            "on that grid; omit --step or use a bundle trained for your step"
        )
    if not 0.0 < args.decode_scale <= 1.0:
        raise SystemExit(f"--decode-scale must be in (0, 1], got {args.decode_scale}")
    cfg = AnalyzeConfig()
    return replace(
        cfg,
        grid=GridConfig(step_s=bundle_step_s, window_steps=window_steps),
        decode=replace(
            cfg.decode,
            frame_rate_hz=args.frame_rate,
            max_side_px=args.max_side,
            scale=args.decode_scale,
            timeout_s=args.timeout,
            max_duration_s=args.max_duration,
            max_pixels=args.max_pixels,
            allowed_schemes=tuple(s.strip().lower() for s in args.allowed_schemes.split(",") if s.strip()),
        ),
        faces=replace(
            cfg.faces,
            score_threshold=args.face_threshold,
            min_face_px=args.min_face,
            crop_size_px=crop_px,
            detect_max_side_px=args.face_max_side,
            backend=args.face_backend,
            device=args.face_device,
            detect_batch=args.face_batch,
            detect_every_frames=args.face_detect_every,
            weights_uri=args.face_weights,
        ),
        segments=replace(cfg.segments, segment_s=args.segment_s),
    )
