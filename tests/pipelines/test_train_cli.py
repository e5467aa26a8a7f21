"""``emotrace synth``, ``train`` and ``evaluate`` end to end on a tiny corpus (default model size)."""

from __future__ import annotations

import csv
import json

import pytest

from emotrace.model.bundle import load_bundle
from emotrace.pipelines.cli import main

pytestmark = pytest.mark.media


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("cli") / "corpus"
    assert main(["synth", "--output", str(out), "--n-posts", "2", "--seed", "5", "--duration", "6"]) == 0
    return str(out)


def test_train_writes_a_versioned_bundle_and_resumes(corpus, tmp_path, capsys):
    bundle_path = str(tmp_path / "b.pt")
    assert main(["train", "--data", corpus, "--output", bundle_path, "--epochs", "2", "--workers", "1"]) == 0
    bundle = load_bundle(bundle_path)
    assert bundle.version.startswith("synthetic-demo-")
    assert len(bundle.training_fingerprint) == 64
    assert bundle.metrics["epochs_run"] == 2 and bundle.metrics["grid_step_s"] == 0.2
    # Same data, same seed: the same weights, hence the same version (features come from the cache).
    again = str(tmp_path / "again.pt")
    assert main(["train", "--data", corpus, "--output", again, "--epochs", "2", "--workers", "1"]) == 0
    assert load_bundle(again).version == bundle.version
    # A finished checkpoint resumed with --resume trains no further epoch and gives the same weights.
    resumed = str(tmp_path / "resumed.pt")
    args = ["train", "--data", corpus, "--output", resumed, "--epochs", "2", "--workers", "1"]
    assert main([*args, "--checkpoint", bundle_path + ".ckpt", "--resume"]) == 0
    assert load_bundle(resumed).version == bundle.version


def test_manifest_with_splits_and_evaluate_json(corpus, tmp_path, capsys):
    manifest = tmp_path / "train.csv"
    with open(f"{corpus}/manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(manifest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["video_uri", "labels_uri", "split"])
        w.writeheader()
        for row, split in zip(rows, ["train", "test"], strict=True):
            w.writerow(
                {
                    "video_uri": f"{corpus}/{row['video_uri']}",
                    "labels_uri": f"{corpus}/{row['labels_uri']}",
                    "split": split,
                }
            )
    bundle_path = str(tmp_path / "m.pt")
    assert (
        main(["train", "--data", str(manifest), "--output", bundle_path, "--epochs", "1", "--workers", "1"])
        == 0
    )
    bundle = load_bundle(bundle_path)
    assert bundle.version.startswith("train-")  # the manifest's name
    assert set(bundle.metrics["test"]) == {"both", "audio_only", "face_only", "face_missing_50"}

    out = tmp_path / "eval.json"
    capsys.readouterr()
    assert main(["evaluate", "--model", bundle_path, "--data", str(manifest), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "split: test" in printed and "face_missing_50" in printed
    result = json.loads(out.read_text())
    assert list(result) == ["both", "audio_only", "face_only", "face_missing_50"]
    for cond in result.values():
        assert set(cond) == {"arousal", "valence"}
        assert all(isinstance(v, float) and -1 <= v <= 1 for v in cond.values())
    assert result == bundle.metrics["test"]  # evaluate and train score the same way


def test_train_without_data_explains(tmp_path):
    with pytest.raises(SystemExit, match="--data and --output are required"):
        main(["train"])
