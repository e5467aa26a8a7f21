"""The preprocessing contract between a model bundle and the pipeline that feeds it (issue 17).

A bundle records the settings its training features were made with; analyze takes its own from there
and refuses a command-line option that contradicts one (``pipelines/model_contract.py``). Fields that
change what the model sees: the trace grid (step, window), the analysed frame rate and decode size, the
aligned crop, the audio rate and descriptor hop. Bundles written before the contract was typed recorded
a subset: what they lack is None here, meaning "not recorded; the pipeline's default applies".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from emotrace.schemas.config import AnalyzeConfig

CROP_FORMAT = "uint8 RGB HWC"


@dataclass(frozen=True)
class Preprocessing:
    step_s: float  # trace step: one model output per step
    window_steps: int  # steps per model window
    crop_size_px: int  # aligned face crop side, pixels
    sample_rate_hz: int  # audio resampled to this rate (mono float32)
    hop_s: float  # low-level audio descriptors every hop_s
    frame_rate_hz: float  # analysed frames per second (ffmpeg's fps filter)
    max_side_px: int | None = None  # frames decoded at most this long (None: not recorded)
    decode_scale: float | None = None  # frames decoded at this fraction of the video's size (None: ditto)
    crop_format: str = CROP_FORMAT

    @classmethod
    def of(cls, cfg: AnalyzeConfig) -> Preprocessing:
        """The contract of features made with ``cfg`` (the config training actually used)."""
        decode_hz, audio_hz = cfg.decode.sample_rate_hz, cfg.audio.sample_rate_hz
        if decode_hz != audio_hz:
            raise ValueError(f"decode resamples to {decode_hz} Hz, audio expects {audio_hz}")
        return cls(
            step_s=cfg.grid.step_s,
            window_steps=cfg.grid.window_steps,
            crop_size_px=cfg.faces.crop_size_px,
            sample_rate_hz=cfg.audio.sample_rate_hz,
            hop_s=cfg.audio.hop_s,
            frame_rate_hz=cfg.decode.frame_rate_hz,
            max_side_px=cfg.decode.max_side_px,
            decode_scale=cfg.decode.scale,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessing:
        """From a saved bundle: unknown keys are refused (a newer contract this code cannot honour)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"bundle preprocessing has fields this emotrace does not know: {unknown}; upgrade"
            )
        return cls(**d)
