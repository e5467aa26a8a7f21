"""The deployment files name the versions setup.py pins (issue 9 acceptance: "a test checks the versions
match"). A worker image whose Beam differs from the launcher's fails at run time with an opaque
SDK-harness error, and a torch drift changes numerics; both are caught here, before any image is built."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKER = REPO / "deploy" / "worker" / "Dockerfile"
LAUNCHER = REPO / "deploy" / "dataflow" / "Dockerfile.launcher"
FLINK = REPO / "deploy" / "flink" / "flink-deployment.yaml"
JOB_SERVER = REPO / "deploy" / "flink" / "beam-job-server.yaml"
CRD_SCHEMA = REPO / "tests" / "deploy" / "schemas" / "flinkdeployment-v1beta1.schema.json"


def setup_pins() -> dict[str, str]:
    """``{"apache-beam": "2.77.0", ..., "python": "3.11"}`` from setup.py's exact pins and python_requires."""
    text = (REPO / "setup.py").read_text(encoding="utf-8")
    pins = dict(re.findall(r'"([A-Za-z0-9_.\-]+)==([^"\s;]+)"', text))
    (python,) = re.findall(r'python_requires="\s*>=\s*(\d+\.\d+)\s*,\s*<', text)
    return {**pins, "python": python}


def resolve(dockerfile: str) -> str:
    """The Dockerfile with every ``${ARG}`` replaced by its default (the first ``ARG NAME=value``)."""
    defaults: dict[str, str] = {}
    for name, value in re.findall(r"^ARG\s+([A-Z_]+)=(\S+)", dockerfile, flags=re.M):
        defaults.setdefault(name, value)
    return re.sub(r"\$\{([A-Z_]+)\}", lambda m: defaults.get(m.group(1), m.group(0)), dockerfile)


def dockerfile_versions(dockerfile: str) -> dict[str, set[str]]:
    """Every version a Dockerfile names, after ARG substitution (a set: two spellings may disagree)."""
    text = resolve(dockerfile)
    found: dict[str, set[str]] = {"python": set(), "apache-beam": set(), "torch": set()}
    for minor in re.findall(r"\bpython:(\d+\.\d+)", text):  # FROM python:3.11-slim
        found["python"].add(minor)
    for minor, beam in re.findall(r"beam_python(\d+\.\d+)_sdk:([0-9.]+)", text):
        found["python"].add(minor)
        found["apache-beam"].add(beam)
    for digits in re.findall(r"python(\d)(\d+)-template-launcher-base", text):
        found["python"].add(".".join(digits))
    for name, version in re.findall(r'"(apache-beam|torch)(?:\[[a-z,]+\])?==([^"\s]+)"', text):
        found[name].add(version)
    return found


def mismatches(found: dict[str, set[str]], pins: dict[str, str]) -> list[str]:
    return [f"{name}: {sorted(v)} vs setup.py {pins[name]}" for name, v in found.items() if v - {pins[name]}]


def test_setup_pins_are_read():
    pins = setup_pins()
    assert re.fullmatch(r"\d+\.\d+\.\d+", pins["apache-beam"]) and re.fullmatch(r"\d+\.\d+", pins["python"])
    assert "torch" in pins


def test_worker_dockerfile_matches_setup_pins():
    found = dockerfile_versions(WORKER.read_text(encoding="utf-8"))
    # Each must be named at least once, or the image silently takes whatever the resolver picks.
    assert all(found[k] for k in ("python", "apache-beam", "torch")), found
    assert mismatches(found, setup_pins()) == []


def test_launcher_dockerfile_matches_setup_pins():
    found = dockerfile_versions(LAUNCHER.read_text(encoding="utf-8"))
    assert found["python"], found  # the launcher base is per Python minor
    assert mismatches(found, setup_pins()) == []


def test_flink_job_server_matches_beam_and_flink_versions():
    pins = setup_pins()
    (server,) = [d for d in yaml.safe_load_all(JOB_SERVER.read_text()) if d["kind"] == "Deployment"]
    image = server["spec"]["template"]["spec"]["containers"][0]["image"]
    m = re.fullmatch(r"apache/beam_flink(\d+\.\d+)_job_server:([0-9.]+)", image)
    assert m, image
    flink = yaml.safe_load(FLINK.read_text())["spec"]
    assert m.group(2) == pins["apache-beam"]
    # The job server is built against one Flink minor; the cluster must run that minor.
    assert flink["flinkVersion"] == "v" + m.group(1).replace(".", "_")
    assert flink["image"].startswith(f"flink:{m.group(1)}")


def flink_minor() -> str:
    (server,) = [d for d in yaml.safe_load_all(JOB_SERVER.read_text()) if d["kind"] == "Deployment"]
    image = server["spec"]["template"]["spec"]["containers"][0]["image"]
    return re.fullmatch(r"apache/beam_flink(\d+\.\d+)_job_server:[0-9.]+", image).group(1)


def test_flink_minor_is_one_beam_and_the_operator_support():
    """Beam's FlinkRunner only knows the Flink versions it publishes job servers for (FlinkRunnerOptions in
    the installed apache-beam), and the operator's CRD enumerates the flinkVersion values it accepts."""
    from apache_beam.options.pipeline_options import FlinkRunnerOptions

    minor = flink_minor()
    assert minor in FlinkRunnerOptions.PUBLISHED_FLINK_VERSIONS, FlinkRunnerOptions.PUBLISHED_FLINK_VERSIONS
    schema = json.loads(CRD_SCHEMA.read_text())
    assert "v" + minor.replace(".", "_") in schema["properties"]["spec"]["properties"]["flinkVersion"]["enum"]


def flink_version_flags(text: str) -> list[str]:
    return re.findall(r"--flink_version[ =]+([0-9.]+)", text)


def test_every_flink_runner_command_names_the_clusters_flink_version():
    """Beam 2.77's --flink_version defaults to its newest published Flink (2.2), so a FlinkRunner command
    without it starts a job server for another Flink than the cluster runs (issue 19, defect 5)."""
    from apache_beam.options.pipeline_options import FlinkRunnerOptions

    assert FlinkRunnerOptions.PUBLISHED_FLINK_VERSIONS[-1] != flink_minor()  # why the flag is needed at all
    files = [REPO / "docs" / "deploy.md", REPO / "README.md", *sorted((REPO / "deploy").rglob("*.sh"))]
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "--runner FlinkRunner" in line or "--runner=FlinkRunner" in line:
                assert flink_version_flags(line) == [flink_minor()], f"{path.name}: {line.strip()}"
    assert flink_version_flags((REPO / "docs" / "deploy.md").read_text()), "the guide gives the flag"


def test_drift_is_detected():
    """The checker is not vacuous: a bumped torch or Beam in the Dockerfile is reported."""
    text = WORKER.read_text(encoding="utf-8")
    pins = setup_pins()
    bumped = re.sub(r"ARG TORCH_VERSION=\S+", "ARG TORCH_VERSION=0.0.1", text)
    assert mismatches(dockerfile_versions(bumped), pins) == [f"torch: ['0.0.1'] vs setup.py {pins['torch']}"]
    bumped = re.sub(r"ARG BEAM_VERSION=\S+", "ARG BEAM_VERSION=2.1.0", text)
    assert any(m.startswith("apache-beam") for m in mismatches(dockerfile_versions(bumped), pins))


@pytest.mark.parametrize("path", [WORKER, LAUNCHER])
def test_dockerfile_copies_only_existing_paths(path: Path):
    """Lint by inspection, automated: every COPY source from the build context exists in the repo."""
    for line in resolve(path.read_text(encoding="utf-8")).splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            *sources, _dest = line.split()[1:]
            for src in sources:
                assert (REPO / src).exists(), f"{path.name}: COPY {src} does not exist"


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore matching, for the plain patterns this repo uses: a pattern matches the path or
    a folder above it; ``**/x`` matches ``x`` at any depth; the last matching line wins, ``!`` re-includes."""
    parts = path.split("/")
    anchored = ["/".join(parts[: i + 1]) for i in range(len(parts))]  # a, a/b, a/b/c
    anywhere = {"/".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)}
    ignored = False
    for line in patterns:
        negate, pattern = line.startswith("!"), line.lstrip("!").strip("/")
        deep = pattern.startswith("**/")
        candidates = anywhere if deep else anchored
        if any(fnmatch.fnmatch(c, pattern.removeprefix("**/")) for c in candidates):
            ignored = not negate
    return ignored


def test_worker_image_ships_the_packaged_bundles():
    """The wheel stage copies the build context, so every bundle the package ships (emotrace/assets/*.pt,
    the default that `--model` omitted loads) must survive Dockerfile.dockerignore; a MODEL_BUNDLE at the
    repository root must too."""
    lines = (REPO / "deploy" / "worker" / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    assets = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "emotrace" / "assets").glob("*.pt"))
    assert assets, "the package ships a default bundle"
    assert [a for a in assets if dockerignored(a, patterns)] == []
    assert not dockerignored("my-bundle.pt", patterns)
    assert dockerignored("tests/deploy/x.py", patterns) and dockerignored(".venv/lib/x.py", patterns)
    assert dockerignored("emotrace/assets/x.pt", [*patterns, "**/*.pt"])  # the matcher is not vacuous
