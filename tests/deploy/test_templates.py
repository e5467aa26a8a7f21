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
import sys
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


def test_airflow_dag_parameters_are_template_parameters_for_the_previous_day():
    source = (REPO / "deploy" / "airflow" / "emotrace_daily.py").read_text(encoding="utf-8")
    tree = ast.parse(source)  # valid Python, without importing Airflow (test_airflow_dag.py imports it)
    params = _literal(tree, "PARAMETERS")
    assert isinstance(params, dict)
    unknown = set(params) - metadata_names() - BEAM_OPTIONS
    assert not unknown, f"not template parameters: {sorted(unknown)}"
    # The day is the data interval's start (ds is the run's own day on Airflow 3's default timetable).
    day = "{{ data_interval_start | ds }}"
    assert params["input"].endswith(f"/manifests/{day}.csv") and params["output"].endswith(f"/dt={day}")
    assert params["run_id"] == f"daily-{day}"
    assert "{{ ds" not in source and "ds_nodash" not in source
    # One GPU model: worker_accelerator and no resource hint; no model unless the image has a bundle.
    assert params["dataflow_service_options"].startswith("worker_accelerator=type:nvidia-l4;count:1")
    assert "resource_hints" not in params and "inference_hints" not in params and "model" not in params


def _flex(tmp_path: Path, *args: str, **env: str) -> list[list[str]]:
    """run_flex_template.sh with a gcloud stand-in that prints its argv as JSON (one line per call)."""
    stub = tmp_path / "bin" / "gcloud"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text(
        f'#!/bin/sh\n"{sys.executable}" -c "import json,sys; print(json.dumps(sys.argv[1:]))" "$@"\n'
    )
    stub.chmod(0o755)
    full_env = {
        **os.environ,
        "PATH": f"{stub.parent}:{os.environ['PATH']}",
        "PROJECT": "p",
        "REGION": "r",
        "BUCKET": "b",
        "IMAGE_TAG": "1",
        "MODEL_BUNDLE": "",  # unset unless the test sets it
        **env,
    }
    out = subprocess.run(
        ["bash", str(DATAFLOW / "run_flex_template.sh"), *args],
        env=full_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def _parameters(argv: list[str]) -> dict[str, str]:
    body = argv[argv.index("--parameters") + 1]
    assert body.startswith("^~^")
    return dict(kv.split("=", 1) for kv in body[3:].split("~"))


def test_flex_run_script_passes_only_template_parameters_for_one_day(tmp_path: Path):
    (argv,) = _flex(tmp_path, "run", "2026-02-28")
    assert argv[:4] == ["dataflow", "flex-template", "run", "emotrace-analyze-2026-02-28"]
    params = _parameters(argv)
    assert not set(params) - metadata_names() - BEAM_OPTIONS, params
    assert params["run_id"] == "daily-2026-02-28"
    assert (
        params["input"] == "gs://b/manifests/2026-02-28.csv"
        and params["output"] == "gs://b/emotrace/dt=2026-02-28"
    )
    assert "install-nvidia-driver" in params["dataflow_service_options"]
    assert "resource_hints" not in params and "model" not in params


def test_flex_run_script_passes_the_image_bundle_only_with_model_bundle(tmp_path: Path):
    (argv,) = _flex(tmp_path, "run", "2026-02-28", MODEL_BUNDLE="my-bundle.pt")
    assert _parameters(argv)["model"] == "/opt/emotrace/models/bundle.pt"


def test_flex_run_script_defaults_to_yesterday_and_refuses_a_bad_day(tmp_path: Path):
    (argv,) = _flex(tmp_path, "run", TODAY="2026-03-01")
    assert _parameters(argv)["run_id"] == "daily-2026-02-28"
    with pytest.raises(subprocess.CalledProcessError) as bad:
        _flex(tmp_path, "run", "2026-02-30")
    assert bad.value.returncode == 2 and "bad day" in bad.value.stderr


def test_flex_build_refuses_a_launcher_image_the_registry_lacks(tmp_path: Path):
    """``gcloud artifacts docker images describe`` answers NOT_FOUND: no spec is written (issue 19, 1)."""
    stub = tmp_path / "bin" / "gcloud"
    stub.parent.mkdir()
    stub.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n[ "$1" != artifacts ]\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{stub.parent}:{os.environ['PATH']}", "PROJECT": "p", "REGION": "r"}
    got = subprocess.run(
        ["bash", str(DATAFLOW / "run_flex_template.sh"), "build"],
        env={**env, "BUCKET": "b", "IMAGE_TAG": "1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert got.returncode == 1 and "build and push it first" in got.stderr
    calls = (stub.parent / "calls").read_text().splitlines()
    assert calls == ["artifacts docker images describe r-docker.pkg.dev/p/emotrace/launcher:1 --project p"]


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


def test_flink_submit_runs_one_day_through_the_cron_script(tmp_path: Path):
    """run_on_flink.sh names the day as every scheduler does (it had no run id before issue 19)."""
    argv = _cron_like(
        tmp_path, "deploy/flink/run_on_flink.sh", "2026-11-24", "--frame-rate", "4", BUCKET="bkt"
    )
    assert argv[:7] == [
        "analyze",
        "--input",
        "gs://bkt/manifests/2026-11-24.csv",
        "--output",
        "gs://bkt/emotrace/dt=2026-11-24",
        "--run-id",
        "daily-2026-11-24",
    ]
    rest = " ".join(argv[7:])
    assert "--runner PortableRunner" in rest and "--environment_config localhost:50000" in rest
    assert rest.endswith("--frame-rate 4") and "--model" not in rest
    args, beam_args = analyze_parser().parse_known_args(argv[1:])
    assert args.skip_existing and args.frame_rate == 4 and "--job_endpoint" in beam_args


def test_flink_submit_with_a_bundle_must_run_where_the_bundle_is(tmp_path: Path):
    with pytest.raises(subprocess.CalledProcessError) as err:
        _cron_like(tmp_path, "deploy/flink/run_on_flink.sh", "2026-11-24", BUCKET="b", MODEL_BUNDLE="x.pt")
    assert err.value.returncode == 2 and "submit from the worker image" in err.value.stderr


def _cron_like(tmp_path: Path, script: str, *args: str, **env: str) -> list[str]:
    stub = tmp_path / "emotrace"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n', encoding="utf-8")
    stub.chmod(0o755)
    full_env = {**os.environ, "EMOTRACE": str(stub), "EMOTRACE_LOCK": str(tmp_path / "lock"), **env}
    out = subprocess.run(
        ["bash", str(REPO / script), *args],
        env=full_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return out.stdout.splitlines()
