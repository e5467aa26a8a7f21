"""Static checks of deploy/ with the tools made for them (pinned in setup.py's test extra).

- hadolint on both Dockerfiles (config: .hadolint.yaml);
- yamllint on the Kubernetes manifests and the repository's YAML configs (config: .yamllint.yaml);
- check-jsonschema: the FlinkDeployment against the Flink Kubernetes operator's CRD schema, a small vendored
  subset in tests/deploy/schemas/ (its ``$comment`` names the CRD file, release line and commit);
- deploy/dataflow/metadata.json regenerated from the options and compared (make_metadata.py --check).

Each check also runs on a copy broken the way it is there to catch, so a check that passes everything
(a tool that is missing, a config that ignores too much) fails here.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv's bin, where the test extra's tools are installed
DEPLOY = REPO / "deploy"
DOCKERFILES = [DEPLOY / "worker" / "Dockerfile", DEPLOY / "dataflow" / "Dockerfile.launcher"]
FLINK_DEPLOYMENT = REPO / "deploy" / "flink" / "flink-deployment.yaml"
SCHEMA = REPO / "tests" / "deploy" / "schemas" / "flinkdeployment-v1beta1.schema.json"


def yaml_files() -> list[Path]:
    found = sorted((REPO / "deploy").rglob("*.yaml")) + sorted((REPO / "deploy").rglob("*.yml"))
    return [*found, REPO / ".yamllint.yaml", REPO / ".hadolint.yaml"]


def tool(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which(name, path=str(BIN))
    assert exe, f"{name} is not installed in {BIN}: run `make install` (it is in setup.py's test extra)"
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=REPO)


def hadolint(*files: Path) -> subprocess.CompletedProcess[str]:
    return tool("hadolint", "--no-color", "--config", REPO / ".hadolint.yaml", *files)


def yamllint(*files: Path) -> subprocess.CompletedProcess[str]:
    return tool("yamllint", "--strict", "--format", "parsable", "-c", REPO / ".yamllint.yaml", *files)


def schema_check(*files: Path) -> subprocess.CompletedProcess[str]:
    return tool("check-jsonschema", "--schemafile", SCHEMA, *files)


def test_hadolint_passes_both_dockerfiles():
    got = hadolint(*DOCKERFILES)
    assert got.returncode == 0, got.stdout + got.stderr


def test_hadolint_catches_a_pipe_without_pipefail(tmp_path: Path):
    """The worker's smoke check pipes ffmpeg into head: without pipefail a broken ffmpeg passes (DL4006)."""
    text = DOCKERFILES[0].read_text(encoding="utf-8")
    shell = 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\n'
    assert shell in text
    broken = tmp_path / "Dockerfile"
    broken.write_text(text.replace(shell, ""), encoding="utf-8")
    got = hadolint(broken)
    assert got.returncode != 0 and "DL4006" in got.stdout, got.stdout


def test_hadolint_catches_an_unpinned_base_image(tmp_path: Path):
    """Only the launcher base may float (Google recommends its `latest`); another `latest` fails (DL3007)."""
    broken = tmp_path / "Dockerfile"
    text = DOCKERFILES[0].read_text(encoding="utf-8")
    broken.write_text(text.replace("FROM python:${PYTHON_VERSION}-slim-bookworm\n", "FROM python:latest\n"))
    got = hadolint(broken)
    assert got.returncode != 0 and "DL3007" in got.stdout, got.stdout


def test_yamllint_passes_the_manifests_and_configs():
    files = yaml_files()
    assert FLINK_DEPLOYMENT in files and len(files) >= 4
    got = yamllint(*files)
    assert got.returncode == 0, got.stdout + got.stderr


def test_yamllint_catches_a_duplicated_key(tmp_path: Path):
    """A repeated key is valid-looking YAML that silently drops the first value (PyYAML keeps the last)."""
    text = FLINK_DEPLOYMENT.read_text(encoding="utf-8")
    broken = tmp_path / "flink-deployment.yaml"
    broken.write_text(text.replace("  flinkVersion:", "  image: flink:1.18\n  flinkVersion:", 1))
    got = yamllint(broken)
    assert got.returncode != 0 and "key-duplicates" in got.stdout, got.stdout


def test_flinkdeployment_matches_the_operator_crd_schema():
    got = schema_check(FLINK_DEPLOYMENT)
    assert got.returncode == 0, got.stdout + got.stderr


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("  serviceAccount: flink", "  serviceAccountName: flink", "serviceAccountName"),  # a pod field name
        ("flinkVersion: v1_19", "flinkVersion: v2_2", "v2_2"),  # not in the operator's enum
        ("      cpu: 1\n", '      cpu: "1"\n', "'1' is not of type 'number'"),  # Resource.cpu is a number
    ],
)
def test_schema_check_catches_what_the_operator_would_refuse(tmp_path: Path, old: str, new: str, why: str):
    text = FLINK_DEPLOYMENT.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "flink-deployment.yaml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    got = schema_check(broken)
    assert got.returncode != 0 and why in got.stdout, got.stdout


def _make_metadata():
    spec = importlib.util.spec_from_file_location("make_metadata", DEPLOY / "dataflow" / "make_metadata.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_metadata_json_is_regenerated_and_compared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    make = _make_metadata()
    assert make.main(["--check"]) == 0  # the committed file is what the options generate
    stale = tmp_path / "metadata.json"
    stale.write_text(make.render().replace('"name": "frame_rate"', '"name": "fps"'), encoding="utf-8")
    monkeypatch.setattr(make, "METADATA", stale)
    assert make.main(["--check"]) == 1  # a renamed option makes it stale
