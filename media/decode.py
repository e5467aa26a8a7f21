"""Stream decoded frames and audio samples out of ffmpeg in bounded memory.

Both readers hold one chunk at a time: ``chunk_frames x H x W x 3`` bytes of frames, at most
``chunk_max_bytes`` (36 MB), or ``audio_chunk_s x sr x 4`` bytes of audio (640 KB). Closing a generator
early kills its ffmpeg. Errors: EmotraceError(DECODE_FAILED | DECODE_TIMEOUT) from the runner.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from emotrace.media.argv import audio_argv, frame_size, video_frames_argv
from emotrace.media.limits import AUDIO_SLACK_S, ran_past_limit, watch_max_pixels
from emotrace.media.runner import iter_blocks
from emotrace.schemas.config import DecodeConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode
from emotrace.schemas.records import AudioChunk, FrameChunk, MediaInfo

_F32_BYTES = 4


def iter_frames(
    path: str, info: MediaInfo, cfg: DecodeConfig, start_s: float = 0.0, reuse_buffer: bool = False
) -> Iterator[FrameChunk]:
    """Yield RGB frames sampled at ``cfg.frame_rate_hz``, in chunks of at most ``cfg.chunk_frames``
    frames and ``cfg.chunk_max_bytes`` bytes (at least one frame).

    Each chunk: ``frames`` uint8[T, H, W, 3] (writable), (W, H) = ``frame_size(info, cfg)``, i.e. the
    displayed size scaled so the longer side is <= ``cfg.max_side_px``; ``t_s`` float64[T] seconds.
    Frame ``i`` (counted over the whole video) has ``t_s = i / frame_rate_hz``: ffmpeg's fps filter,
    started at 0, emits frames on exactly that grid, each being the source frame on screen at that
    time (the latest with pts <= t_s); see :func:`~emotrace.media.argv.video_frames_argv`.
    Nothing is yielded when ``info.has_video`` is False. ``start_s`` (a multiple of the frame period,
    e.g. a segment's preroll start) starts decoding there: frame ``i`` then has ``t_s = start_s + i /
    frame_rate_hz``.
    ``reuse_buffer``: every chunk's ``frames`` view one buffer that the next chunk overwrites (no fresh
    35 MB and its page faults per chunk: ~10 ms of CPU per media second on the 2-core machine, issue 6).
    ffmpeg writes YUV 4:2:0; OpenCV converts it to RGB here (BT.601, as swscale; within 1-2 grey
    levels of ffmpeg's own RGB on average, a few more at sharp colour edges: chroma is not
    interpolated).
    Only for consumers done with a chunk before they ask for the next (``features.windows``); never
    ``list()`` such an iterator.
    """
    if not info.has_video:
        return
    width, height = frame_size(info, cfg)
    yuv_bytes = width * height * 3 // 2  # one I420 frame as ffmpeg writes it (argv.video_frames_argv)
    argv = video_frames_argv(path, info, cfg, start_s=start_s)
    n_done = 0
    # Large frames come in fewer per chunk: one chunk's RGB bytes stay bounded whatever the decode size.
    chunk_frames = max(1, min(cfg.chunk_frames, cfg.chunk_max_bytes // (width * height * 3)))
    rgb = np.empty((chunk_frames, height, width, 3), np.uint8) if reuse_buffer else None
    blocks = iter_blocks(
        argv,
        yuv_bytes * chunk_frames,
        timeout_s=cfg.timeout_s,
        reuse=reuse_buffer,
        watch=watch_max_pixels(cfg),
        unit=yuv_bytes,
    )
    for block in blocks:
        frames = _rgb_frames(block, width, height, rgb, path)
        n = len(frames)
        t_s = start_s + (n_done + np.arange(n, dtype=np.float64)) / cfg.frame_rate_hz
        n_done += n
        # Nothing at or past --max-duration is analysed, whatever the header said (media.limits).
        keep = int(np.searchsorted(t_s, cfg.max_duration_s - 1e-9))
        if keep < n:
            if keep:
                yield FrameChunk(t_s=t_s[:keep], frames=frames[:keep])
            if t_s[-1] > cfg.max_duration_s + 0.5 / cfg.frame_rate_hz:
                raise ran_past_limit(info, cfg, float(t_s[-1]))
            return
        yield FrameChunk(t_s=t_s, frames=frames)


def _rgb_frames(
    block: bytes | bytearray | memoryview, width: int, height: int, out: np.ndarray | None, path: str
) -> np.ndarray:
    """One block of I420 frames from ffmpeg as uint8[N, H, W, 3] RGB, into ``out`` (reused) when given."""
    yuv_bytes = width * height * 3 // 2
    n, leftover = divmod(len(block), yuv_bytes)
    if leftover:
        # Only a killed or confused ffmpeg writes a partial frame; never reshape garbage.
        raise EmotraceError(
            ErrorCode.DECODE_FAILED, f"ffmpeg ended mid-frame ({leftover} of {yuv_bytes} bytes) on {path}"
        )
    planes = np.frombuffer(block, dtype=np.uint8).reshape(n, height * 3 // 2, width)
    frames = out[:n] if out is not None else np.empty((n, height, width, 3), np.uint8)
    for i in range(n):
        cv2.cvtColor(planes[i], cv2.COLOR_YUV2RGB_I420, dst=frames[i])
    return frames


def iter_audio(path: str, info: MediaInfo, cfg: DecodeConfig, start_s: float = 0.0) -> Iterator[AudioChunk]:
    """Yield the first audio stream as mono float32 at ``cfg.sample_rate_hz``, ``cfg.audio_chunk_s`` a chunk.

    Each chunk: ``samples`` float32[N] in [-1, 1] (writable), N = round(audio_chunk_s * sr) except the
    last; chunks are contiguous and ``t0_s = samples_before / sr`` seconds (sample 0 is at t = 0 on the
    same timeline as :func:`iter_frames`). Nothing is yielded when ``info.has_audio`` is False.
    ``start_s`` starts decoding there: ``t0_s`` then counts from ``start_s``.
    """
    if not info.has_audio:
        return
    sr = int(cfg.sample_rate_hz)
    chunk_samples = max(1, round(cfg.audio_chunk_s * sr))
    limit = max(0, round((cfg.max_duration_s - start_s) * sr))  # samples before --max-duration
    n_done = 0
    for block in iter_blocks(
        audio_argv(path, cfg, start_s=start_s), chunk_samples * _F32_BYTES, timeout_s=cfg.timeout_s
    ):
        if len(block) % _F32_BYTES:
            raise EmotraceError(ErrorCode.DECODE_FAILED, f"ffmpeg ended mid-sample on {path}")
        samples = np.frombuffer(block, dtype="<f4")
        if n_done + len(samples) > limit:  # past --max-duration: keep what is before it (media.limits)
            end = n_done + len(samples)
            samples = samples[: max(0, limit - n_done)]
            if end > limit + AUDIO_SLACK_S * sr:
                if len(samples):
                    yield _audio_chunk(samples, start_s + n_done / sr, sr)
                raise ran_past_limit(info, cfg, start_s + end / sr)
            if not len(samples):
                return
        yield _audio_chunk(samples, start_s + n_done / sr, sr)
        n_done += len(samples)


def _audio_chunk(samples: np.ndarray, t0_s: float, sr: int) -> AudioChunk:
    # AAC decoding and resampling overshoot full scale slightly; the contract is [-1, 1].
    np.clip(samples, -1.0, 1.0, out=samples)
    return AudioChunk(t0_s=t0_s, samples=samples.astype(np.float32, copy=False), sample_rate_hz=sr)


def open_streams(
    path: str,
    info: MediaInfo,
    cfg: DecodeConfig,
    start_s: float = 0.0,
    soundtrack: tuple[str, MediaInfo] | None = None,
) -> tuple[Iterator[FrameChunk], Iterator[AudioChunk]]:
    """Both streaming decoders of one file from ``start_s`` (a segment's preroll start): what
    ``features.step_grid.iter_step_windows`` reads, for analyze and for training's feature cache alike.
    ``soundtrack``: another file's audio (and its probe) in place of the video's, on the same timeline
    (RECOLA ships its audio as WAVs)."""
    audio_path, audio_info = soundtrack if soundtrack is not None else (path, info)
    frames = iter_frames(path, info, cfg, start_s, reuse_buffer=True)
    return frames, iter_audio(audio_path, audio_info, cfg, start_s)
