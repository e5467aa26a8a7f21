"""The flex template, its launcher, the schedules and the Flink manifests agree with the pipeline's options.

Nothing here needs Docker, gcloud, Kubernetes or Airflow: files are parsed (JSON, YAML, ``ast``) and the
launcher and cron script are run with the real pipeline or a stand-in for the ``emotrace`` command.
"""

from __future__ import annotations

import argparse
import ast
import fcntl
import importlib.util
import json
import os
import subprocess
from pathlib import Path
from types import ModuleType

import pyarrow.dataset as ds
import pytest
import yaml

from emotrace.pipelines.options import add_analyze_args

REPO = Path(__file__).resolve().parents[2]
DATAFLOW = REPO / "deploy" / "dataflow"
BEAM_OPTIONS = {  # pipeline options a template run passes through to Beam (not emotrace parameters)
    "dataflow_service_options",
    "number_of_worker_harness_threads",
    "resource_hints",
    "sdk_container_image",
    "experiments",
}


def load(path: Path) -> ModuleType:
    """deploy/ is not a package (it is not installed on workers); load its scripts by path."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def analyze_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_analyze_args(parser)
    return parser


def metadata_names() -> set[str]:
    return {p["name"] for p in json.loads((DATAFLOW / "metadata.json").read_text())["parameters"]}


def test_metadata_json_is_generated_from_the_current_options():
    make = load(DATAFLOW / "make_metadata.py")
    assert (DATAFLOW / "metadata.json").read_text() == make.render(), (
        "deploy/dataflow/metadata.json is stale: run .venv/bin/python deploy/dataflow/make_metadata.py"
    )


def test_metadata_declares_every_analyze_option_and_marks_required_ones():
    params = {p["name"]: p for p in json.loads((DATAFLOW / "metadata.json").read_text())["parameters"]}
    parser = analyze_parser()
    for action in parser._actions:
        flags = [s for s in action.option_strings if s.startswith("--")]
        if not flags or isinstance(action, argparse._HelpAction):
            continue
        name = flags[0][2:].replace("-", "_")
        assert name in params, name
        assert params[name]["isOptional"] is (not action.required), name
    assert params["frame_rate"]["regexes"] and params["batch_size"]["regexes"]


def test_launcher_maps_template_parameters_to_cli_options():
    launch = load(DATAFLOW / "launch.py")
    parser = launch.analyze_parser()
    argv = launch.template_to_cli(
        [
            "--input=gs://b/m.csv",
            "--frame_rate=2.5",
            "--run_id=daily-20261124",
            "--skip_existing=true",
            "--hash_user_ids=false",
            "--temp_location=gs://b/tmp",  # a Beam option: untouched
            "--sdk_container_image=img:1",
        ],
        parser,
    )
    assert argv == [
        "--input=gs://b/m.csv",
        "--frame-rate=2.5",
        "--run-id=daily-20261124",
        "--skip-existing",
        "--temp_location=gs://b/tmp",
        "--sdk_container_image=img:1",
    ]
    args, rest = parser.parse_known_args([*argv, "--output=o"])
    assert args.frame_rate == 2.5 and args.skip_existing and not args.hash_user_ids
    assert rest == ["--temp_location=gs://b/tmp", "--sdk_container_image=img:1"]
    with pytest.raises(SystemExit):
        launch.template_to_cli(["--force=maybe"], parser)


@pytest.mark.pipeline
def test_launcher_submits_and_returns_without_waiting_for_the_summary(tmp_path: Path):
    """The flex entry point builds the same pipeline as ``emotrace analyze`` (here on the DirectRunner,
    which runs inside ``run()``): one invalid manifest row yields its videos row."""
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("video_uri,post_id,user_id,posted_at\n,no_uri,u1,\n", encoding="utf-8")
    launch = load(DATAFLOW / "launch.py")
    result = launch.main(
        [f"--input={manifest}", f"--output={tmp_path / 'out'}", "--run_id=flex1", "--runner=DirectRunner"]
    )
    assert result is not None
    rows = ds.dataset(str(tmp_path / "out" / "videos"), format="parquet").to_table().to_pylist()
    # An invalid row is named by its place in the manifest (it has no usable post to name it by).
    assert [(r["post_id"], r["status"], r["error_code"], r["run_id"]) for r in rows] == [
        ("manifest.csv:2", "failed", "MANIFEST_ROW_INVALID", "flex1")
    ]


def _literal(tree: ast.Module, name: str) -> object:
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == name:
            return ast.literal_eval(node.value)
    raise KeyError(name)


def test_airflow_dag_parameters_are_template_parameters_for_yesterday():
    source = (REPO / "deploy" / "airflow" / "emotrace_daily.py").read_text(encoding="utf-8")
    tree = ast.parse(source)  # valid Python, without importing Airflow
    params = _literal(tree, "PARAMETERS")
    assert isinstance(params, dict)
    unknown = set(params) - metadata_names() - BEAM_OPTIONS
    assert not unknown, f"not template parameters: {sorted(unknown)}"
    assert {"input", "output"} <= set(params)
    # {{ ds }} is the logical date = the start of the daily interval = yesterday for a @daily run.
    assert "{{ ds }}" in params["input"] and "dt={{ ds }}" in params["output"]
    assert params["dataflow_service_options"].startswith("worker_accelerator=type:nvidia-l4;count:1")


def test_flex_run_script_passes_only_template_parameters():
    script = (DATAFLOW / "run_flex_template.sh").read_text(encoding="utf-8")
    (line,) = [ln for ln in script.splitlines() if "--parameters" in ln]
    body = line.split('"^~^', 1)[1].rsplit('"', 1)[0]
    names = {kv.split("=", 1)[0] for kv in body.split("~")}
    assert not names - metadata_names() - BEAM_OPTIONS, names
    assert "install-nvidia-driver" in script


def _cron(tmp_path: Path, *args: str, **env: str) -> list[str]:
    stub = tmp_path / "emotrace"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n', encoding="utf-8")
    stub.chmod(0o755)
    full_env = {**os.environ, "EMOTRACE": str(stub), "EMOTRACE_LOCK": str(tmp_path / "lock"), **env}
    out = subprocess.run(
        ["bash", str(REPO / "deploy" / "cron" / "emotrace_daily.sh"), *args],
        env=full_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return out.stdout.splitlines()


def test_cron_script_runs_yesterday_into_its_partition(tmp_path: Path):
    argv = _cron(tmp_path, TODAY="2026-03-01", BUCKET="bkt", EMOTRACE_ARGS="--runner DirectRunner")
    assert argv == [
        "analyze",
        "--input",
        "gs://bkt/manifests/2026-02-28.csv",  # the day before 1 March, across the month end
        "--output",
        "gs://bkt/emotrace/dt=2026-02-28",
        "--run-id",
        "daily-2026-02-28",
        "--skip-existing",
        "--runner",
        "DirectRunner",
    ]
    parser = analyze_parser()
    args, beam_args = parser.parse_known_args(argv[1:])  # the CLI accepts exactly this
    assert args.skip_existing and beam_args == ["--runner", "DirectRunner"]


def test_cron_script_takes_a_day_and_a_manifest_template(tmp_path: Path):
    argv = _cron(tmp_path, "2026-11-24", EMOTRACE_MANIFEST="/m/{date}/posts.csv", EMOTRACE_OUTPUT="/o/")
    assert argv[1:5] == ["--input", "/m/2026-11-24/posts.csv", "--output", "/o/dt=2026-11-24"]


def test_cron_script_refuses_to_overlap_a_running_day(tmp_path: Path):
    lock = tmp_path / "lock"
    env = {**os.environ, "EMOTRACE": "true", "EMOTRACE_LOCK": str(lock), "BUCKET": "b"}
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # flock(2), the lock the script's `flock -n` takes
        got = subprocess.run(
            ["bash", str(REPO / "deploy" / "cron" / "emotrace_daily.sh"), "2026-11-24"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert got.returncode == 75, got.stderr
    assert "another run holds" in got.stderr
    free = subprocess.run(
        ["bash", str(REPO / "deploy" / "cron" / "emotrace_daily.sh"), "2026-11-24"], env=env
    )
    assert free.returncode == 0  # released: the same call now goes through


def test_flink_manifests_wire_the_job_server_to_the_cluster_and_the_worker_pool():
    flink = yaml.safe_load((REPO / "deploy" / "flink" / "flink-deployment.yaml").read_text())
    server_docs = list(yaml.safe_load_all((REPO / "deploy" / "flink" / "beam-job-server.yaml").read_text()))
    (deployment,) = [d for d in server_docs if d["kind"] == "Deployment"]
    (service,) = [d for d in server_docs if d["kind"] == "Service"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    # The operator exposes the JobManager REST API as the <name>-rest service.
    assert f"--flink-master={flink['metadata']['name']}-rest:8081" in args
    sidecar = next(
        c for c in flink["spec"]["taskManager"]["podTemplate"]["spec"]["containers"] if c.get("args")
    )
    assert sidecar["args"] == ["--worker_pool"]
    assert {p["containerPort"] for p in sidecar["ports"]} == {50000}
    script = (REPO / "deploy" / "flink" / "run_on_flink.sh").read_text()
    assert "--environment_config localhost:50000" in script
    assert {p["port"] for p in service["spec"]["ports"]} >= {8099, 8098}
    assert service["metadata"]["name"] in script
