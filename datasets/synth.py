"""A labelled synthetic audio-visual corpus: latent arousal/valence drive a face and a voice.

Per post ``k`` (independent random stream ``default_rng([seed, k])``, so one post never changes another):

* latents: arousal and valence, smooth random processes in [-1, 1] sampled every 40 ms (AVEC's rate);
* video: the astronaut photo (``synth_face``) under a slow camera pan/zoom; valence drives the smile
  (and a weak inner-brow knit), arousal a weak share of the brows and how wide the mouth opens while
  speaking, with independent brow movements as nuisance; stretches where the face is covered by an
  occluder or the camera pans down until it leaves the frame;
* audio: a speech-like voice (``synth_audio``); arousal drives loudness, pitch level and range and
  speaking rate, valence a partial cue: voice brightness (spectral tilt, against a per-speaker
  tilt as wide) and a weak formant shift; plus longer silent stretches;
* labels: ``labels/<post>.csv`` with ``time,arousal,valence`` every 0.04 s.

So the face carries mostly valence and the voice mostly arousal, each with a weaker share of the other
(so that where the face is missing the voice still says something about valence): neither modality
alone is enough for both. Layout of ``DIR``::

    manifest.csv      video_uri,post_id,labels_uri,split,duration_s   (paths relative to DIR)
    videos/post_000.mp4 ...
    labels/post_000.csv ...
    synth.json        generator version, seed and parameters

Run ``emotrace synth --output DIR [--n-posts N] [--seed S]``. Pure core: no Beam import.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from emotrace.datasets.sample_posts import write_video
from emotrace.datasets.synth_audio import (
    SAMPLE_RATE_HZ,
    VoiceParams,
    plan_syllables,
    render_voice,
    syllable_envelope,
)
from emotrace.datasets.synth_face import FaceCues, astronaut_rig, camera_crop, occlude, render_expression

GENERATOR_VERSION = "synth-v3"  # bump when the generator's output changes, so caches and versions follow
LABEL_RATE_HZ = 25.0  # one label every 40 ms, like RECOLA / AVEC 2016
MANIFEST_COLUMNS = ("video_uri", "post_id", "labels_uri", "split", "duration_s")


@dataclass(frozen=True)
class SynthConfig:
    """Corpus parameters. Times in seconds; ``*_per_min``: expected events per minute of video."""

    duration_s: float = 20.0
    fps: float = 15.0
    width: int = 640
    height: int = 360
    latent_sigma_s: float = 1.5  # smoothness of the latents (Gaussian kernel width)
    face_missing_per_min: float = 3.0
    face_missing_s: tuple[float, float] = (0.8, 2.0)
    silence_per_min: float = 3.0
    silence_s: tuple[float, float] = (1.0, 2.0)
    crf: int = 23


@dataclass(frozen=True)
class PostPlan:
    """Everything random about one post, drawn up front. ``t_s``: float64[T] label times;
    ``arousal``/``valence``/``brow_nuisance``: float64[T] in [-1, 1]; events are (start_s, end_s, kind)."""

    t_s: np.ndarray
    arousal: np.ndarray
    valence: np.ndarray
    brow_nuisance: np.ndarray
    face_missing: tuple[tuple[float, float, str], ...]
    silences: tuple[tuple[float, float], ...]
    base_f0_hz: float
    formant_scale: float
    camera_phase: tuple[float, float, float]
    voice_tilt: float = 1.0


def smooth_latent(
    n: int, sigma_steps: float, rng: np.random.Generator, offset_sd: float = 0.35
) -> np.ndarray:
    """float64[n] in (-1, 1): Gaussian-smoothed white noise scaled to unit std, a random offset, tanh."""
    x = gaussian_filter1d(rng.standard_normal(n + 8 * int(sigma_steps)), sigma_steps, mode="reflect")
    x = x[4 * int(sigma_steps) : 4 * int(sigma_steps) + n]
    x = x / (x.std() + 1e-9)
    return np.tanh(0.9 * x + rng.normal(0.0, offset_sd))


def _events(
    duration_s: float,
    per_min: float,
    length_s: tuple[float, float],
    rng: np.random.Generator,
    taken: list[tuple[float, float]],
) -> list[tuple[float, float]]:
    """Non-overlapping stretches (also apart from ``taken``), at least 1 s from either end."""
    n = rng.poisson(per_min * duration_s / 60.0)
    out: list[tuple[float, float]] = []
    for _ in range(int(n) * 4):  # a few tries per event; crowded clips just get fewer
        if len(out) >= n:
            break
        length = rng.uniform(*length_s)
        start = rng.uniform(1.0, max(1.0, duration_s - 1.0 - length))
        end = start + length
        if all(end + 0.5 < a or start > b + 0.5 for a, b in out + taken):
            out.append((start, end))
    return sorted(out)


def plan_post(cfg: SynthConfig, rng: np.random.Generator) -> PostPlan:
    n = round(cfg.duration_s * LABEL_RATE_HZ)
    sigma = cfg.latent_sigma_s * LABEL_RATE_HZ
    arousal = smooth_latent(n, sigma, rng)
    valence = smooth_latent(n, sigma, rng)
    nuisance = smooth_latent(n, 0.6 * sigma, rng, offset_sd=0.0)
    missing = _events(cfg.duration_s, cfg.face_missing_per_min, cfg.face_missing_s, rng, [])
    # Silences avoid face gaps: a step with neither cue could only be guessed from its neighbours.
    silences = _events(cfg.duration_s, cfg.silence_per_min, cfg.silence_s, rng, missing)
    kinds = ["occluded" if rng.random() < 0.5 else "panned_away" for _ in missing]
    return PostPlan(
        t_s=np.arange(n) / LABEL_RATE_HZ,
        arousal=arousal,
        valence=valence,
        brow_nuisance=nuisance,
        face_missing=tuple((a, b, k) for (a, b), k in zip(missing, kinds, strict=True)),
        silences=tuple(silences),
        base_f0_hz=float(rng.uniform(140.0, 190.0)),
        formant_scale=float(rng.uniform(0.95, 1.05)),
        camera_phase=tuple(float(p) for p in rng.uniform(0.0, 2 * np.pi, size=3)),
        voice_tilt=float(rng.uniform(0.8, 1.2)),
    )


def _camera(plan: PostPlan, t: float, cfg: SynthConfig) -> tuple[float, float, float]:
    """(x0, y0, crop_h) in photo pixels: a slow pan/zoom that keeps the head in view, or a pan down to
    the suit (ramping over 0.4 s) during a ``panned_away`` stretch."""
    head = (145.0, 10.0, 305.0, 195.0)  # the whole head with hair in the 512 px photo
    ph = plan.camera_phase
    ch = 257.5 + 20.0 * np.sin(2 * np.pi * t / 7.0 + ph[0])
    cw = ch * cfg.width / cfg.height
    x_lo, x_hi = max(0.0, head[2] - cw), min(head[0], 512.0 - cw)
    y_lo, y_hi = max(0.0, head[3] - ch), min(head[1], 512.0 - ch)
    x0 = x_lo + (x_hi - x_lo) * (0.5 + 0.5 * np.sin(2 * np.pi * t / 5.3 + ph[1]))
    y0 = y_lo + (y_hi - y_lo) * (0.5 + 0.5 * np.sin(2 * np.pi * t / 4.1 + ph[2]))
    for a, b, kind in plan.face_missing:
        if kind == "panned_away" and a - 0.4 <= t < b + 0.4:
            ramp = min(1.0, (t - (a - 0.4)) / 0.4, ((b + 0.4) - t) / 0.4)
            y0 = y0 + (512.0 - ch - y0) * ramp  # the face (y 56..176) leaves the top of the frame
    return x0, y0, ch


def render_frames(plan: PostPlan, envelope_at: np.ndarray, cfg: SynthConfig) -> np.ndarray:
    """uint8[T, H, W, 3] RGB frames at ``cfg.fps``; ``envelope_at``: float64[T] mouth opening."""
    rig = astronaut_rig()
    n = round(cfg.duration_s * cfg.fps)
    frames = np.empty((n, cfg.height, cfg.width, 3), np.uint8)
    for i in range(n):
        t = i / cfg.fps
        a = float(np.interp(t, plan.t_s, plan.arousal))
        v = float(np.interp(t, plan.t_s, plan.valence))
        nu = float(np.interp(t, plan.t_s, plan.brow_nuisance))
        cues = FaceCues(
            smile=v,
            open=float(envelope_at[i]) * (0.6 + 0.3 * a),  # 0.3-0.9: a talker's mouth opens at any arousal
            brow=0.45 * a + 0.55 * nu,
            knit=0.6 * max(0.0, -v),
        )
        img = render_expression(rig, cues)
        occluded = [b for b in plan.face_missing if b[2] == "occluded" and b[0] <= t < b[1]]
        if occluded:
            occlude(img, rig, (occluded[0][0] * 7.3) % 1.0)
        x0, y0, ch = _camera(plan, t, cfg)
        frames[i] = camera_crop(img, x0, y0, ch, cfg.width, cfg.height)
    return frames


def write_post(out_dir: str, post_id: str, seed: int, k: int, cfg: SynthConfig) -> dict[str, str]:
    """Write ``videos/<post_id>.mp4`` and ``labels/<post_id>.csv``; return the manifest row (no split)."""
    rng = np.random.default_rng([seed, k])
    plan = plan_post(cfg, rng)

    def arousal(t: float) -> float:
        return float(np.interp(t, plan.t_s, plan.arousal))

    def valence(t: float) -> float:
        return float(np.interp(t, plan.t_s, plan.valence))

    voice = VoiceParams(
        base_f0_hz=plan.base_f0_hz,
        formant_scale=plan.formant_scale,
        tilt=plan.voice_tilt,
        silences=plan.silences,
    )
    syllables = plan_syllables(cfg.duration_s, arousal, valence, voice, rng)
    audio = render_voice(syllables, cfg.duration_s, rng)
    frame_t = np.arange(round(cfg.duration_s * cfg.fps)) / cfg.fps
    frames = render_frames(plan, syllable_envelope(syllables, frame_t), cfg)
    video_rel = f"videos/{post_id}.mp4"
    labels_rel = f"labels/{post_id}.csv"
    write_video(os.path.join(out_dir, video_rel), frames, cfg.fps, audio, SAMPLE_RATE_HZ, crf=cfg.crf)
    write_labels(os.path.join(out_dir, labels_rel), plan.t_s, plan.arousal, plan.valence)
    return {
        "video_uri": video_rel,
        "post_id": post_id,
        "labels_uri": labels_rel,
        "duration_s": f"{cfg.duration_s:g}",
    }


def write_labels(path: str, t_s: np.ndarray, arousal: np.ndarray, valence: np.ndarray) -> None:
    """CSV ``time,arousal,valence`` (seconds, values in [-1, 1], 6 decimals)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["time", "arousal", "valence"])
        for t, a, v in zip(t_s, arousal, valence, strict=True):
            w.writerow([f"{t:.2f}", f"{a:.6f}", f"{v:.6f}"])


def split_of(k: int, n_posts: int) -> str:
    """The last ~1/6 of posts are ``test``, the ~1/6 before them ``dev``, the rest ``train``
    (none of dev/test below 6 posts: a tiny corpus is for smoke tests)."""
    n_held = n_posts // 6
    if k >= n_posts - n_held:
        return "test"
    if k >= n_posts - 2 * n_held:
        return "dev"
    return "train"


def _write_post_job(args: tuple[str, str, int, int, SynthConfig]) -> dict[str, str]:
    return write_post(*args)


def build_corpus(
    out_dir: str, n_posts: int = 24, seed: int = 0, cfg: SynthConfig | None = None, workers: int = 1
) -> list[dict[str, str]]:
    """Write the corpus (see the module docstring); return the manifest rows. Deterministic per seed
    (identical frames, audio and labels; identical bytes with the same ffmpeg build)."""
    cfg = cfg or SynthConfig()
    if n_posts < 1:
        raise ValueError(f"n_posts must be >= 1, got {n_posts}")
    os.makedirs(os.path.join(out_dir, "videos"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "labels"), exist_ok=True)
    jobs = [(out_dir, f"post_{k:03d}", seed, k, cfg) for k in range(n_posts)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_write_post_job, jobs))
    else:
        rows = [_write_post_job(j) for j in jobs]
    for k, row in enumerate(rows):
        row["split"] = split_of(k, n_posts)
    with open(os.path.join(out_dir, "manifest.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    meta = {"generator": GENERATOR_VERSION, "seed": seed, "n_posts": n_posts, "config": asdict(cfg)}
    with open(os.path.join(out_dir, "synth.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """CLI: ``emotrace synth --output DIR [--n-posts N] [--seed S] [--duration D] [--workers W]``."""
    parser = argparse.ArgumentParser(prog="emotrace synth", description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="folder to write the corpus into")
    parser.add_argument("--n-posts", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, default=SynthConfig.duration_s, help="seconds per post")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    args = parser.parse_args(argv)
    started = time.monotonic()
    rows = build_corpus(
        args.output, args.n_posts, args.seed, SynthConfig(duration_s=args.duration), args.workers
    )
    splits = {s: sum(r["split"] == s for r in rows) for s in ("train", "dev", "test")}
    print(
        f"{len(rows)} posts ({splits}) in {time.monotonic() - started:.1f} s: "
        f"{os.path.join(args.output, 'manifest.csv')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
