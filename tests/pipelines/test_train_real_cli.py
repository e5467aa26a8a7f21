"""``emotrace train --real`` and ``emotrace evaluate --real`` end to end on a tiny realdata-shaped folder.

The folder has the layout of ``../shared/realdata`` (RAVDESS-named clips of three actors, London-style
portraits with their labels, a validation-only folder) built from generated media; only the teacher's
weights come from the shared copy. The figures of a real run are docs/model.md's; here the wiring is
tested: stages, splits, the bundle's version and provenance, determinism, and the held-out report.
"""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from skimage import data

from emotrace.datasets.face_warp import FaceCues, WarpAmplitudes, warp_region
from emotrace.datasets.synth_face import astronaut_rig
from emotrace.model.bundle import load_bundle
from emotrace.pipelines.cli import main
from tests.realdata import require_realdata

pytestmark = [pytest.mark.media, pytest.mark.slow]
SR = 16_000


def _clip(loudness: float, f0: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    voiced = (np.sin(2 * np.pi * 3 * t) > -0.3).astype(np.float32)  # syllable-like bursts
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8)) * voiced
    return (loudness * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture(scope="module")
def realdata(tmp_path_factory: pytest.TempPathFactory) -> str:
    teacher = require_realdata("models", "emotion_model.hdf5")
    root = tmp_path_factory.mktemp("realdata")
    (root / "models").mkdir()
    shutil.copy(teacher, root / "models" / "emotion_model.hdf5")
    speech = root / "speech" / "ravdess"
    speech.mkdir(parents=True)
    # neutral quiet/low, angry loud/high; actors 1-2 train, 17 dev, 21 test.
    for actor in (1, 2, 17, 21):
        for emotion, loud, f0 in ((1, 0.05, 120), (5, 0.6, 220), (3, 0.3, 180), (4, 0.08, 110)):
            name = f"03-01-{emotion:02d}-{1 if emotion == 1 else 2:02d}-01-01-{actor:02d}.flac"
            sf.write(speech / name, _clip(loud, f0 + 10 * actor % 30), SR)
    london = root / "faces" / "london"
    london.mkdir(parents=True)
    rig = astronaut_rig()
    rows = []
    for i in range(3):
        for label, smile in (("neutral", 0.0), ("smiling", 1.0)):
            img = warp_region(
                data.astronaut(),
                (150, 40, 300, 200),
                rig.landmarks,
                FaceCues(smile, 0.3 * smile, 0, 0),
                WarpAmplitudes(12, 7, 6, 3),
            )
            name = f"london_{i:03d}_{label}.jpg"
            Image.fromarray(img).save(london / name)
            rows.append({"file": name, "face_id": f"{i:03d}", "expression": label})
    with open(london / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "face_id", "expression"])
        w.writeheader()
        w.writerows(rows)
    val = root / "validation-only" / "facial_expressions"
    val.mkdir(parents=True)
    shutil.copy(london / "london_000_smiling.jpg", val / "a.jpg")
    shutil.copy(london / "london_000_neutral.jpg", val / "b.jpg")
    for cat in ("anger", "sadness", "disgust"):
        shutil.copy(london / "london_001_neutral.jpg", val / f"{cat}.jpg")
    with open(val / "labels.csv", "w") as f:
        f.write(
            "file,expression\na.jpg,happiness\nb.jpg,neutral\nanger.jpg,anger\nsadness.jpg,sadness\ndisgust.jpg,disgust\n"
        )
    return str(root)


def test_train_real_then_evaluate_real(realdata, tmp_path):
    work, out, again = str(tmp_path / "work"), str(tmp_path / "real.pt"), str(tmp_path / "again.pt")
    args = ["train", "--real", "--realdata", realdata, "--work", work, "--epochs", "2", "--workers", "1"]
    assert main([*args, "--output", out]) == 0
    bundle = load_bundle(out)
    assert bundle.version.startswith("real-cc-by-nc-sa-")
    assert {c["licence"] for c in bundle.provenance["corpora"]} >= {"CC BY-NC-SA 4.0", "CC BY 4.0"}
    test = bundle.metrics["test"]
    assert test["ravdess_test_actors"]["n_clips"] == 4 and test["ravdess_test_actors"]["actors"] == [
        "ravdess-actor-21"
    ]
    assert test["london_test_identities"]["n_people"] == 1  # identity 002 of 000-002
    assert set(bundle.metrics["stage_seconds"]) >= {"speech features", "distillation", "fusion training"}
    # Same data and seed, from the caches: the same weights.
    assert main([*args, "--output", again]) == 0
    assert load_bundle(again).version == bundle.version

    report = str(tmp_path / "report.json")
    cache = str(tmp_path / "eval-cache")
    assert (
        main(
            [
                "evaluate",
                "--real",
                "--model",
                out,
                "--realdata",
                realdata,
                "--cache-dir",
                cache,
                "--json",
                report,
            ]
        )
        == 0
    )
    with open(report) as f:
        r = json.load(f)
    assert r["model"] == bundle.version
    assert r["validation_only_expressions"]["n_images"] == 5
    assert set(r["validation_only_expressions"]["neutral_above"]) == {"anger", "sadness", "disgust"}
    assert set(r["paired_voice_and_face"]) == {"n_clips", "both", "voice_only", "face_only"}
