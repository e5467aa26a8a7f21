"""Three small, deterministic demo posts (MP4) and their manifest, generated offline.

* ``talking_head.mp4``: a real face photograph (``skimage.data.astronaut()``) under a slow pan/zoom,
  with a speech-like soundtrack;
* ``silent_face.mp4``: the same face, no audio stream at all;
* ``no_face.mp4``: moving abstract shapes and no face, with a speech-like soundtrack.

Each is about 8 s of 640x360 H.264 (yuv420p) at 25 fps with 44.1 kHz AAC, like a phone upload.
Run ``python -m emotrace.datasets.sample_posts --output samples``. Pure core: no Beam import.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import soundfile as sf
from scipy import signal

from emotrace.media.argv import encode_argv, rotate_remux_argv
from emotrace.media.runner import run_to_completion

WIDTH, HEIGHT, FPS = 640, 360, 25
DURATION_S = 8.0
SAMPLE_RATE_HZ = 44_100
MANIFEST_COLUMNS = ("video_uri", "post_id", "user_id", "posted_at")

# In skimage's 512x512 astronaut: the face (RetinaFace box, x0, y0, x1, y1) and the whole head with
# hair, which every crop keeps inside with a margin.
ASTRONAUT_FACE_BOX = (177, 56, 272, 176)
_HEAD_BOX = (145, 10, 305, 195)

# Vowel formants (F1, F2, F3) in Hz, adult averages (Peterson & Barney); bandwidths in Hz.
_VOWELS_HZ = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410))
_FORMANT_BW_HZ = (90, 110, 150)


# -- writing ---------------------------------------------------------------------------------------
def write_video(
    path: str,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    audio: np.ndarray | None = None,
    sample_rate: int = SAMPLE_RATE_HZ,
    *,
    crf: int = 28,
    preset: str = "veryfast",
    timeout_s: float = 300.0,
) -> None:
    """Encode frames (and optional audio) to an H.264 + AAC MP4 at ``path``.

    Args:
        frames: uint8[T, H, W, 3] RGB, or an iterable of uint8[H, W, 3] (streamed: constant memory);
            H and W must be even (yuv420p).
        fps: frames per second.
        audio: float32[N] mono or float32[N, C] in [-1, 1] at ``sample_rate`` Hz; None writes no audio
            stream at all (not a silent one).
        crf, preset: libx264 quality/speed; the defaults keep an 8 s 640x360 post near 0.5 MB.
    """
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError("write_video needs at least one frame")
    height, width = _check_frame(first, None)

    def frame_bytes() -> Iterator[bytes]:
        yield np.ascontiguousarray(first).tobytes()
        for frame in it:
            _check_frame(frame, (height, width))
            yield np.ascontiguousarray(frame).tobytes()

    with tempfile.TemporaryDirectory(prefix="emotrace-wv-") as tmp:
        wav_path = None
        if audio is not None:
            wav_path = os.path.join(tmp, "audio.wav")
            sf.write(wav_path, np.clip(np.asarray(audio, dtype=np.float32), -1, 1), sample_rate, "PCM_16")
        argv = encode_argv(path, width, height, fps, wav_path, crf=crf, preset=preset)
        run_to_completion(argv, timeout_s=timeout_s, stdin_chunks=frame_bytes())


def write_rotated_copy(src: str, dst: str, rotation_deg: int, *, timeout_s: float = 60.0) -> None:
    """Copy ``src`` to ``dst`` without re-encoding, tagged to display rotated by ``rotation_deg``
    (counter-clockwise), like a phone video shot in portrait."""
    run_to_completion(rotate_remux_argv(src, dst, rotation_deg), timeout_s=timeout_s)


def _check_frame(frame: np.ndarray, size: tuple[int, int] | None) -> tuple[int, int]:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frames must be uint8[H, W, 3], got {frame.dtype}{list(frame.shape)}")
    hw = (int(frame.shape[0]), int(frame.shape[1]))
    if size is not None and hw != size:
        raise ValueError(f"frame size changed from {size} to {hw}")
    if hw[0] % 2 or hw[1] % 2:
        raise ValueError(f"frame sides must be even for yuv420p, got {hw}")
    return hw


# -- sound -----------------------------------------------------------------------------------------
def speech_like(duration_s: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A speech-like mono signal: float32[round(duration_s * sample_rate)], peak 0.6.

    Phrases of 3-8 voiced syllables (120-220 ms nuclei, 40-100 ms gaps: ~4 per second) separated by
    250-600 ms pauses. Voicing is a harmonic source (17 harmonics, 1/k amplitudes) whose F0 falls
    through each phrase from 150-210 Hz with accents, kept in 110-230 Hz; a vowel's three formant
    resonators shape each syllable; half the syllables start with a short fricative noise burst. A
    -60 dB noise floor keeps the pauses from being digital silence, as in a real recording.
    """
    n = round(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = np.full(n, 150.0)
    vowel_weights = np.zeros((len(_VOWELS_HZ), n))
    burst_env = np.zeros(n)
    pos = 0.3
    while pos < duration_s - 0.6:
        n_syl = int(rng.integers(3, 9))
        phrase_start, f0_start = pos, rng.uniform(150.0, 210.0)
        for _ in range(n_syl):
            dur = rng.uniform(0.12, 0.22)
            if pos + dur > duration_s - 0.3:
                break
            i0, i1 = round(pos * sample_rate), round((pos + dur) * sample_rate)
            x = np.linspace(0.0, 1.0, i1 - i0)
            vowel_weights[rng.integers(len(_VOWELS_HZ)), i0:i1] = np.sin(np.pi * x) ** 1.5
            accent = 1.0 + rng.uniform(0.0, 0.2) * np.sin(np.pi * x)
            f0[i0:i1] = f0_start * (1.0 - 0.25 * (pos - phrase_start) / 2.0) * accent
            if rng.random() < 0.5:
                nb = round(rng.uniform(0.02, 0.05) * sample_rate)
                burst_env[i0 : i0 + nb] = np.hanning(nb)
            pos += dur + rng.uniform(0.04, 0.10)  # consonant gap: ~4 syllables/s
        f0[round(pos * sample_rate) :] = f0[max(round(pos * sample_rate) - 1, 0)]  # hold through pause
        pos += rng.uniform(0.25, 0.6)
    f0 = np.clip(f0 * (1.0 + 0.01 * np.sin(2 * np.pi * 5.5 * t)), 110.0, 230.0)  # slight vibrato

    phase = 2.0 * np.pi * np.cumsum(f0) / sample_rate
    source = sum(np.sin(k * phase) / k for k in range(1, int(4000 / 230) + 1))
    voiced = sum(
        w * _formant_filter(source, formants, sample_rate)
        for w, formants in zip(vowel_weights, _VOWELS_HZ, strict=True)
    )
    hp = signal.butter(4, 2000.0, "highpass", fs=sample_rate, output="sos")
    noise = signal.sosfilt(hp, rng.standard_normal(n))
    out = voiced / (np.abs(voiced).max() + 1e-9) + 0.3 * burst_env * noise / (np.abs(noise).max() + 1e-9)
    out = 0.6 * out / (np.abs(out).max() + 1e-9) + 0.6e-3 * rng.standard_normal(n)
    return out.astype(np.float32)


def _formant_filter(x: np.ndarray, formants_hz: Sequence[float], sample_rate: int) -> np.ndarray:
    """Cascade of two-pole resonators (unit gain at DC) at ``formants_hz``."""
    for freq, bw in zip(formants_hz, _FORMANT_BW_HZ, strict=True):
        r = np.exp(-np.pi * bw / sample_rate)
        a = [1.0, -2.0 * r * np.cos(2 * np.pi * freq / sample_rate), r * r]
        x = signal.lfilter([sum(a)], a, x)
    return x


# -- pictures --------------------------------------------------------------------------------------
def talking_head_frames(
    n_frames: int, fps: float, rng: np.random.Generator, width: int = WIDTH, height: int = HEIGHT
) -> Iterator[np.ndarray]:
    """Yield uint8[height, width, 3] frames of the astronaut's face under a slow pan and zoom.

    The crop (aspect width:height) is 230-285 source pixels tall, so the 120-pixel face box is
    ~150-190 px tall at 360 px output, and it always keeps the whole head (with hair) inside.
    """
    from skimage import data  # lazy: only this generator needs the photo

    img = data.astronaut()
    src_h, src_w = img.shape[:2]
    hx0, hy0, hx1, hy1 = _HEAD_BOX
    ph = rng.uniform(0.0, 2.0 * np.pi, size=3)
    for i in range(n_frames):
        t = i / fps
        ch = 257.5 + 27.5 * np.sin(2.0 * np.pi * t / 7.0 + ph[0])
        cw = ch * width / height
        x_lo, x_hi = max(0.0, hx1 - cw), min(float(hx0), src_w - cw)
        y_lo, y_hi = max(0.0, hy1 - ch), min(float(hy0), src_h - ch)
        x0 = x_lo + (x_hi - x_lo) * (0.5 + 0.5 * np.sin(2.0 * np.pi * t / 5.3 + ph[1]))
        y0 = y_lo + (y_hi - y_lo) * (0.5 + 0.5 * np.sin(2.0 * np.pi * t / 4.1 + ph[2]))
        yield _crop_resize(img, x0, y0, cw, ch, width, height)


def abstract_frames(
    n_frames: int, fps: float, rng: np.random.Generator, width: int = WIDTH, height: int = HEIGHT
) -> Iterator[np.ndarray]:
    """Yield uint8[height, width, 3] frames of drifting colour waves and bouncing rectangles (no face)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) / height
    k = rng.uniform(2.0, 6.0, size=(3, 2)).astype(np.float32)
    speed = rng.uniform(0.3, 1.0, size=3).astype(np.float32)
    boxes = rng.uniform(0.0, 1.0, size=(3, 4))  # x, y, vx, vy in units of the frame
    colours = rng.integers(0, 256, size=(3, 3)).astype(np.uint8)
    for i in range(n_frames):
        t = i / fps
        planes = [np.sin(k[c, 0] * xx + k[c, 1] * yy + speed[c] * 2.0 * np.pi * t + c) for c in range(3)]
        frame = ((np.stack(planes, axis=-1) * 0.5 + 0.5) * 200.0 + 20.0).astype(np.uint8)
        for (bx, by, vx, vy), colour in zip(boxes, colours, strict=True):
            cx = _bounce(bx + 0.15 * vx * t) * (width - 80)
            cy = _bounce(by + 0.15 * vy * t) * (height - 60)
            frame[int(cy) : int(cy) + 60, int(cx) : int(cx) + 80] = colour
        yield frame


def _bounce(u: float) -> float:
    """Triangle wave folding any real ``u`` into [0, 1] (a shape bouncing between walls)."""
    u = u % 2.0
    return u if u <= 1.0 else 2.0 - u


def _crop_resize(
    img: np.ndarray, x0: float, y0: float, cw: float, ch: float, out_w: int, out_h: int
) -> np.ndarray:
    """Bilinear resample of the sub-pixel crop [x0, x0+cw) x [y0, y0+ch) of uint8[H, W, 3] to
    uint8[out_h, out_w, 3]. Sub-pixel offsets keep the slow pan smooth (no 1-pixel jumps)."""
    import cv2  # lazy: ~10x faster than numpy fancy indexing here, and only this helper needs it

    sx, sy = cw / out_w, ch / out_h
    # Maps output pixel centres to source coordinates (pixel centres at integer + 0.5 in both).
    m = np.array([[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5]], dtype=np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(img, m, (out_w, out_h), flags=flags, borderMode=cv2.BORDER_REFLECT)


# -- the sample set --------------------------------------------------------------------------------
def build_sample_posts(out_dir: str, seed: int = 0) -> list[dict[str, str]]:
    """Write the three sample posts and ``out_dir/manifest.csv``; return the manifest rows.

    Deterministic given ``seed`` (same frames and audio; same bytes with the same ffmpeg build).
    ``video_uri`` is the file name, relative to the manifest's folder (as ``datasets.inputs`` resolves
    it), so the folder can be moved or copied as a whole.
    """
    os.makedirs(out_dir, exist_ok=True)
    n_frames = round(DURATION_S * FPS)
    posts = [
        ("talking_head", "user_a", "2024-05-01T12:00:00Z", talking_head_frames, True),
        ("silent_face", "user_a", "2024-05-02T08:30:00Z", talking_head_frames, False),
        ("no_face", "user_b", "2024-05-03T19:45:00Z", abstract_frames, True),
    ]
    rows = []
    for k, (post_id, user_id, posted_at, frames_fn, with_audio) in enumerate(posts):
        # One independent stream per post: changing one post never changes another.
        rng = np.random.default_rng([seed, k])
        name = f"{post_id}.mp4"
        audio = speech_like(DURATION_S, SAMPLE_RATE_HZ, rng) if with_audio else None
        write_video(os.path.join(out_dir, name), frames_fn(n_frames, FPS, rng), FPS, audio, SAMPLE_RATE_HZ)
        rows.append({"video_uri": name, "post_id": post_id, "user_id": user_id, "posted_at": posted_at})
    with open(os.path.join(out_dir, "manifest.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m emotrace.datasets.sample_posts --output DIR [--seed N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="folder to write the posts and manifest.csv into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = build_sample_posts(args.output, seed=args.seed)
    for row in rows:
        path = os.path.join(args.output, row["video_uri"])
        print(f"{row['post_id']}: {path} ({os.path.getsize(path) / 1e3:.0f} kB)")
    print(os.path.join(args.output, "manifest.csv"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
