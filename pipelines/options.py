"""Command-line options of each pipeline, turned into frozen configs at the edge.

Every option is checked where it is parsed (an argparse ``type`` with its allowed range): a bad value
ends the command with one line naming the option, the value and what is allowed, and exit status 2
(argparse's convention), before any work starts. Beam's own options (runner, workers, project, ...) pass
through untouched: every argument the emotrace parser does not know is handed to ``PipelineOptions``.
"""

from __future__ import annotations

import argparse
import math
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NoReturn

from emotrace.schemas.config import (
    ANALYZE_WINDOW_HOP_S,
    AnalyzeConfig,
    DecodeConfig,
    FaceConfig,
    GridConfig,
    hop_steps_for,
)
from emotrace.schemas.naming import RUN_ID_RULE, is_valid_run_id
from emotrace.schemas.preprocessing import Preprocessing


class UsageError(SystemExit):
    """A command line that cannot run: exit status 2, and ``str()`` is the one line the CLI prints."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever a library's error held
        self.code = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is a :class:`UsageError` (one line, exit 2) instead of usage + message;
    a value that is not a number says the option's allowed range too."""

    def error(self, message: str) -> NoReturn:
        m = re.match(r"argument (--[a-z-]+): invalid (int|float) value", message)
        action = self._option_string_actions.get(m[1]) if m else None
        allowed = getattr(action, "allowed", None)
        raise UsageError(f"{message} (allowed: {allowed})" if allowed else message)


def new_run_id() -> str:
    """Sortable and unique: ``20261125T140501Z-3fa9c1``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def in_range(low: float, high: float, unit: str = "", zero: bool = False) -> type[argparse.Action]:
    """An argparse action keeping a parsed number (``type=int`` or ``float``) in [low, high], or exactly
    0 with ``zero``; NaN and infinities are refused. An action, not a ``type``, so tools that read
    ``action.type`` (deploy/dataflow/make_metadata.py) still see int or float."""
    allowed = f"{'0 or ' if zero else ''}{low:g}..{high:g}{' ' + unit if unit else ''}"

    class InRange(argparse.Action):
        def __call__(
            self,
            parser: argparse.ArgumentParser,
            ns: argparse.Namespace,
            value: object,
            opt: str | None = None,
        ) -> None:
            assert isinstance(value, int | float)
            if not math.isfinite(value) or not (low <= value <= high or (zero and value == 0)):
                raise argparse.ArgumentError(self, f"{value!r} is outside the allowed range {allowed}")
            setattr(ns, self.dest, value)

    InRange.allowed = allowed  # type: ignore[attr-defined]  # named by OneLineParser for unparsable text
    return InRange


def run_id(text: str) -> str:
    if not is_valid_run_id(text, chosen=True):
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: {RUN_ID_RULE}")
    return text


def _cuda_problem(text: str) -> str | None:
    import torch  # only when a CUDA device is asked for

    index = int(text.partition(":")[2] or 0)
    if not torch.cuda.is_available():
        return f"{text!r}: no CUDA device is visible; use --device cpu or auto"
    if index >= torch.cuda.device_count():
        return f"{text!r}: only {torch.cuda.device_count()} CUDA device(s) are visible (0..)"
    return None


def device(text: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``. Whether the device exists is checked by
    :func:`check_local_devices` once the runner is known: a job submitted to Dataflow or Flink runs its
    model on the workers' GPUs, not on the launcher's."""
    if text not in ("auto", "cpu") and not re.fullmatch(r"cuda(:[0-9]+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not one of auto, cpu, cuda, cuda:N")
    return text


# Runners that execute the job in this process or its children, on this machine's devices.
LOCAL_RUNNERS = frozenset({"direct", "switchingdirect", "bundlebaseddirect", "prism", "fnapi"})


def runs_locally(runner: str | None) -> bool:
    """The Beam ``--runner`` executes on this machine (None: Beam's default, the DirectRunner)."""
    if runner is None:
        return True
    name = runner.rsplit(".", 1)[-1].lower()
    return name.removesuffix("runner") in LOCAL_RUNNERS


def check_local_devices(args: argparse.Namespace, runner: str | None) -> None:
    """``--device``/``--face-device cuda`` on a local runner needs a visible CUDA device (UsageError)."""
    if not runs_locally(runner):
        return
    for option, value in (("--device", args.device), ("--face-device", args.face_device)):
        problem = _cuda_problem(value) if value.startswith("cuda") else None
        if problem:
            raise UsageError(f"argument {option}: {problem}")


def face_device(text: str) -> str:
    """The detector's torch device: ``cpu``, ``cuda`` or ``cuda:N`` (no ``auto``)."""
    if text == "auto":
        raise argparse.ArgumentTypeError("'auto' is not one of cpu, cuda, cuda:N")
    return device(text)


def schemes(text: str) -> tuple[str, ...]:
    names = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    bad = [s for s in names if not re.fullmatch(r"[a-z][a-z0-9+.-]*", s)]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"{text!r}: expected URI schemes separated by commas, e.g. file,gs")
    return names


def add_analyze_args(parser: argparse.ArgumentParser) -> None:
    _where_args(parser)
    _frame_args(parser)
    _face_args(parser)
    _budget_args(parser)
    _model_args(parser)
    _policy_args(parser)


def _where_args(parser: argparse.ArgumentParser) -> None:
    """Inputs, outputs, the model and the run id."""
    parser.add_argument("--input", required=True, help="manifest (.csv/.jsonl), folder, or glob of videos")
    parser.add_argument("--output", required=True, help="output folder (local or gs://)")
    parser.add_argument(
        "--model", default=None, help="model bundle path (local or gs://); default: demo bundle"
    )
    parser.add_argument(
        "--run-id", type=run_id, default=None, help="names this run's files and rows (default: time + random)"
    )


def _frame_args(parser: argparse.ArgumentParser) -> None:
    """What is decoded from each video."""
    d = DecodeConfig()
    parser.add_argument(
        "--frame-rate", type=float, action=in_range(0.1, 60, "per second"), default=None,
        help=f"frames analysed per second (default: the model bundle's; {d.frame_rate_hz:g} in shipped ones)",
    )  # fmt: skip
    parser.add_argument(
        "--step", type=float, action=in_range(0.01, 10, "s"), default=None,
        help="trace step in seconds (default: the model bundle's step)",
    )  # fmt: skip
    parser.add_argument(
        "--max-side", type=int, action=in_range(32, 8192, "px"), default=None,
        help=f"frames decoded at most this large on their longest side, and at least 640 px (default and "
        f"only choice: the bundle's, {d.max_side_px} in shipped ones)",
    )  # fmt: skip
    parser.add_argument(
        "--decode-scale", type=float, action=in_range(0.05, 1), default=None,
        help="frames decoded at this fraction of the video's size, within 640 px and --max-side: 720p "
        f"at 854x480, 1080p at 1280x720 (1: full size, for faces under 20 px, with a bundle trained so; "
        f"default and only choice: the bundle's, {d.scale:.3g} in shipped ones)",
    )  # fmt: skip


def _face_args(parser: argparse.ArgumentParser) -> None:
    """Face detection."""
    f = FaceConfig()
    parser.add_argument(
        "--face-threshold", type=float, action=in_range(0.01, 1), default=f.score_threshold,
        help="RetinaFace score threshold",
    )  # fmt: skip
    parser.add_argument(
        "--min-face",
        type=int,
        action=in_range(1, 8192, "px"),
        default=f.min_face_px,
        help="smallest face found: shorter side of its box in the video's own pixels (before decoding)",
    )
    parser.add_argument(
        "--face-max-side", type=int, action=in_range(32, 8192, "px"), default=f.detect_max_side_px,
        help="longest side of the full-frame face pass's input (default: where a --min-face face is 10 px, "
        "at least 640; small faces are then confirmed on zoomed crops; docs/faces.md)",
    )  # fmt: skip
    parser.add_argument(
        "--face-backend", default=f.backend, choices=["onnxruntime", "torch", "auto"], help="detector runtime"
    )
    parser.add_argument(
        "--face-device", type=face_device, default=f.device, help="torch device of the face detector"
    )
    parser.add_argument(
        "--face-batch",
        type=int,
        action=in_range(1, 1024),
        default=f.detect_batch,
        help="frames per detector call",
    )
    parser.add_argument(
        "--face-detect-every", type=int, action=in_range(1, 1000), default=f.detect_every_frames,
        help="full-frame face detection every k-th analysis frame, small regions around faces between "
        "(1: every frame)",
    )  # fmt: skip
    parser.add_argument(
        "--face-weights",
        default=f.weights_uri,
        help="RetinaFace ONNX (local or gs://, e.g. ResNet50; docs/faces.md); default: MobileNet0.25",
    )


def _budget_args(parser: argparse.ArgumentParser) -> None:
    """Per-video time and length."""
    d = DecodeConfig()
    parser.add_argument(
        "--timeout", type=float, action=in_range(1, 7 * 86400, "s"), default=d.timeout_s,
        help="per-video ffmpeg timeout, seconds",
    )  # fmt: skip
    parser.add_argument(
        "--max-duration", type=float, action=in_range(0.1, 30 * 86400, "s"), default=d.max_duration_s,
        help="longer videos are skipped",
    )  # fmt: skip
    parser.add_argument(
        "--segment-s", type=float, action=in_range(1, 86400, "s", zero=True), default=None,
        help="videos longer than this many seconds are cut into segments of about this length that run "
        "as separate elements, so one long video spreads over workers (0: never cut). Default: "
        f"{AnalyzeConfig().segments.segment_s:g} s, and on a runner whose worker count the job knows "
        "(local, Dask) at most one segment per worker, each as long as that makes it",
    )  # fmt: skip


def _model_args(parser: argparse.ArgumentParser) -> None:
    """Inference."""
    parser.add_argument(
        "--window-hop-s", type=float, action=in_range(0.01, 3600, "s"), default=ANALYZE_WINDOW_HOP_S,
        help="a model window starts every this many seconds; shorter than a window (5 s), windows overlap "
        "and each step is a cross-fade of all windows over it, so traces have no seams at window edges; "
        "a window's length puts them back to back (fewer windows, seams every window)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, action=in_range(1, 4096), default=8,
        help="model windows per inference batch (8 on CPU: 32 costs as much CPU per window and ~160 MB more "
        "peak memory, issue 6; 64-256 on a GPU)",
    )  # fmt: skip
    parser.add_argument("--device", type=device, default="auto", help="auto, cpu or cuda[:N] for the model")
    parser.add_argument(
        "--inference-hints",
        default=None,
        help="Beam resource hints for the model stage only, as key=value pairs separated by commas (e.g. "
        "accelerator=type:nvidia-l4;count:1;install-nvidia-driver): the stage is split from decoding by a "
        "Reshuffle so a right-fitting runner gives only it the GPU workers",
    )


def _policy_args(parser: argparse.ArgumentParser) -> None:
    """Privacy, input policy and the re-run policy."""
    d = DecodeConfig()
    parser.add_argument(
        "--hash-user-ids",
        action="store_true",
        help="write salted sha256 pseudonyms instead of user ids (salt from $EMOTRACE_USER_ID_SALT)",
    )
    parser.add_argument(
        "--max-pixels", type=int, action=in_range(64, 2**31 - 1, "px"), default=d.max_pixels,
        help="videos with larger frames are skipped",
    )  # fmt: skip
    parser.add_argument(
        "--allowed-schemes",
        type=schemes,
        default=",".join(d.allowed_schemes),  # a string default goes through ``type`` too
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


def analyze_config(args: argparse.Namespace, pre: Preprocessing) -> AnalyzeConfig:
    """The bundle fixes what its model was trained on (grid, frame rate, decode size, crop): an option
    that contradicts it is refused, not ignored; one it does not record takes the pipeline default."""
    cfg = AnalyzeConfig()
    step_s = _bundle_setting(args.step, pre.step_s, "--step", "s", "grid")
    frame_rate = _bundle_setting(args.frame_rate, pre.frame_rate_hz, "--frame-rate", "/s", "frame rate")
    max_side = _bundle_setting(args.max_side, pre.max_side_px, "--max-side", "px", "decode size")
    scale = _bundle_setting(args.decode_scale, pre.decode_scale, "--decode-scale", "", "decode size")
    try:
        hop = hop_steps_for(args.window_hop_s, step_s, pre.window_steps)
    except ValueError as err:
        raise UsageError(f"argument --window-hop-s: {args.window_hop_s:g}: {err}") from err
    return replace(
        cfg,
        grid=GridConfig(step_s=step_s, window_steps=pre.window_steps, hop_steps=hop),
        decode=replace(
            cfg.decode,
            frame_rate_hz=frame_rate,
            max_side_px=int(max_side) if max_side is not None else cfg.decode.max_side_px,
            scale=float(scale) if scale is not None else cfg.decode.scale,
            timeout_s=args.timeout,
            max_duration_s=args.max_duration,
            max_pixels=args.max_pixels,
            allowed_schemes=tuple(args.allowed_schemes),
        ),
        faces=replace(
            cfg.faces,
            score_threshold=args.face_threshold,
            min_face_px=args.min_face,
            crop_size_px=pre.crop_size_px,
            detect_max_side_px=args.face_max_side,
            backend=args.face_backend,
            device=args.face_device,
            detect_batch=args.face_batch,
            detect_every_frames=args.face_detect_every,
            weights_uri=args.face_weights,
        ),
        segments=cfg.segments if args.segment_s is None else replace(cfg.segments, segment_s=args.segment_s),
    )


def _bundle_setting(given: float | None, recorded: float | None, option: str, unit: str, what: str) -> Any:
    """The bundle's value unless the user gave another: that is refused with advice. A setting the
    bundle does not record (bundles from before it was) takes the option, else None: the default."""
    if given is not None and recorded is not None and abs(given - recorded) > 1e-9:
        raise UsageError(
            f"argument {option}: {given:g} differs from the model bundle's {recorded:g}{unit}: the model was "
            f"trained on features of that {what}; omit {option} or use a bundle trained with it"
        )
    return given if given is not None else recorded
