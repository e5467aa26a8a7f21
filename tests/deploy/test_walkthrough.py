"""docs/deploy.md works when followed step by step (issue 19).

Every shell block of the guide runs, in order, with recording stand-ins for docker, gcloud, gsutil,
kubectl, helm and emotrace (walkthrough.py, standins.py). The stand-ins refuse what the real tools or the
cloud would: an image pushed before it is built or used before it is pushed, a file a command names that
is not there, a placeholder the guide never set, a namespace or service account used before it exists, a
TaskManager pod that does not fit its node pool, a Dataflow job mixing GPU models. After the walk: the
paths were all exercised, every run names a run id of the one format (the Airflow DAG's too), and every
service account whose pods read the bucket was granted it.

The last tests feed small guides with one defect each through the same machinery: each check can fail.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.deploy.walkthrough import (
    REPO,
    Block,
    copy_repo,
    dag_run_id,
    require_envsubst,
    run_id_problems,
    settings,
    shell_blocks,
    walk,
)

GUIDE = REPO / "docs" / "deploy.md"
IMAGE_BUNDLE = "/opt/emotrace/models/bundle.pt"


@pytest.fixture(scope="module")
def blocks() -> list[Block]:
    return shell_blocks(GUIDE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def guide_walk(blocks: list[Block], tmp_path_factory: pytest.TempPathFactory):
    require_envsubst()
    return walk(tmp_path_factory.mktemp("walk"), blocks)


def test_the_guide_runs_end_to_end(guide_walk):
    assert guide_walk.returncode == 0 and guide_walk.state["problems"] == [], guide_walk.failure()


def test_every_path_of_the_guide_is_exercised(guide_walk):
    s = guide_walk.state
    assert any(i.endswith(f"/worker:{'0.1.0'}") for i in s["pushed"]), s["pushed"]
    assert any("/launcher:" in i for i in s["pushed"]), "the launcher image is built and pushed"
    assert s["specs"] and s["flex_runs"], "a flex template spec is built and a day launched"
    kinds = {a.split("/")[1] for a in s["applied"]}
    assert {"Namespace", "FlinkDeployment", "Deployment", "Service", "ServiceAccount"} <= kinds | {
        "Namespace"
    }
    assert any("PortableRunner" in argv for argv in s["analyze_runs"]), "a day submitted to Flink"
    assert any("DataflowRunner" in argv for argv in s["analyze_runs"]), "the cron backfill on Dataflow"
    assert any(any("dask_runner.DaskRunner" in a for a in argv) for argv in s["analyze_runs"]), (
        "a day on Dask"
    )


def test_one_run_id_format_everywhere(guide_walk):
    run_ids = guide_walk.state["run_ids"]
    assert len(run_ids) >= 4, run_ids  # the flex run, the Flink submit, the Dask day, the cron backfill
    dag = dag_run_id(datetime(2026, 11, 24))
    assert run_id_problems([*run_ids, ["Airflow DAG", dag["run_id"]]]) == []
    # the same day gets the same id from the flex script and from Airflow
    flex = {p["run_id"]: p for p in guide_walk.state["flex_runs"]}
    assert flex[dag["run_id"]]["input"].endswith("/manifests/2026-11-24.csv")
    assert dag["input"].endswith("/manifests/2026-11-24.csv") and dag["output"].endswith("/dt=2026-11-24")


def test_every_service_account_reading_the_bucket_is_granted_it(guide_walk):
    s = guide_walk.state
    assert s["gcs_ksas"], "the job server and the TaskManagers read gs://"
    for ksa in s["gcs_ksas"]:
        ns, name = ksa.split("/")
        grants = [g for g in s["iam"] if g["member"].endswith(f"/subject/ns/{ns}/sa/{name}")]
        assert grants and all(g["role"].startswith("roles/storage.") for g in grants), (ksa, s["iam"])


def test_without_a_model_bundle_no_command_names_a_model(guide_walk):
    s = guide_walk.state
    builds = [c["argv"] for c in s["calls"] if c["tool"] == "docker" and c["argv"][:1] == ["build"]]
    assert builds and not any("MODEL_BUNDLE" in " ".join(argv) for argv in builds)
    assert all("model" not in p for p in s["flex_runs"])
    assert not any("--model" in argv for argv in s["analyze_runs"])


def test_with_a_model_bundle_the_image_gets_it_and_the_jobs_read_it(blocks, tmp_path: Path):
    """Sections 2 to 4 (settings, images, Dataflow) with MODEL_BUNDLE set, as the guide says to."""
    require_envsubst()
    repo = copy_repo(tmp_path / "repo")
    (repo / "my-bundle.pt").write_bytes(b"a trained bundle")
    dataflow = [b for b in blocks if b.section.split(".")[0] in ("2", "3", "4")]
    got = walk(tmp_path / "w", dataflow, env={"MODEL_BUNDLE": "my-bundle.pt"}, repo=repo)
    assert got.returncode == 0 and got.state["problems"] == [], got.failure()
    builds = [c["argv"] for c in got.state["calls"] if c["tool"] == "docker" and c["argv"][:1] == ["build"]]
    assert "MODEL_BUNDLE=my-bundle.pt" in builds[0]
    assert [p.get("model") for p in got.state["flex_runs"]] == [IMAGE_BUNDLE]


def test_the_guide_sets_every_variable_its_blocks_read(blocks):
    names = settings(blocks)
    assert {"PROJECT", "REGION", "BUCKET", "IMAGE_TAG", "REGISTRY"} <= set(names), names


# ---- each check can fail ----------------------------------------------------------------------------------
SETUP = """export PROJECT=p REGION=us-central1 BUCKET=b IMAGE_TAG=1
export REGISTRY=us-central1-docker.pkg.dev/p/emotrace
gsutil mb -p "$PROJECT" gs://b
gcloud artifacts repositories create emotrace --repository-format=docker --location=us-central1 --project=p
gcloud auth configure-docker us-central1-docker.pkg.dev
"""
WORKER = 'docker build -f deploy/worker/Dockerfile -t "$REGISTRY/worker:1" .\n'
FLINK_BASE = """gcloud container clusters get-credentials c --location l
kubectl apply -f deploy/flink/namespace.yaml
helm repo add r https://example.invalid/
helm install op r/op --namespace op --create-namespace --set "watchNamespaces={emotrace}"
"""
POOL = "gcloud container node-pools create p --cluster c --machine-type {} --accelerator type=nvidia-l4\n"
FLINK_APPLY = "envsubst '${REGISTRY} ${IMAGE_TAG}' < deploy/flink/flink-deployment.yaml | kubectl apply -f -"


@pytest.mark.parametrize(
    ("guide", "problem"),
    [
        (SETUP + 'docker push "$REGISTRY/worker:1"', "was never built"),
        (
            SETUP + WORKER + 'docker push "$REGISTRY/worker:1"\ndeploy/dataflow/run_flex_template.sh build',
            "is not in the registry",  # the launcher was never pushed: the script refuses (issue 19, 1)
        ),
        (
            SETUP
            + "docker build -f deploy/worker/Dockerfile --build-arg MODEL_BUNDLE=models/emotrace.pt -t x .",
            "COPY models/emotrace.pt is not in the build context",  # issue 19, 2
        ),
        (SETUP + "gsutil mb gs://BUCKET", "placeholder 'BUCKET'"),
        (
            SETUP + "PROJECT=... REGION=... deploy/dataflow/run_flex_template.sh build",
            "placeholder '...'",
        ),
        (
            SETUP + "gcloud container clusters get-credentials c --location l\n"
            "envsubst '${BUCKET}' < deploy/flink/beam-job-server.yaml | kubectl apply -f -",
            "namespace emotrace does not exist yet",  # issue 19, 6
        ),
        (
            SETUP + "gcloud container clusters get-credentials c --location l\n"
            "kubectl apply -f deploy/flink/namespace.yaml\n"
            "envsubst '${BUCKET}' < deploy/flink/beam-job-server.yaml | kubectl apply -f -\n"
            "kubectl apply -f deploy/flink/flink-deployment.yaml",
            "placeholder '${REGISTRY}'",  # applied without envsubst
        ),
        (
            SETUP + "gcloud container clusters get-credentials c --location l\n"
            "kubectl apply -f deploy/flink/namespace.yaml\n"
            "envsubst '${REGISTRY} ${IMAGE_TAG}' < deploy/flink/flink-deployment.yaml | kubectl apply -f -",
            "no Flink operator watches namespace emotrace",  # issue 19, 6: nothing made the `flink` account
        ),
        (SETUP + FLINK_BASE + POOL.format("g2-standard-4") + FLINK_APPLY, "does not fit g2-standard-4"),
        (SETUP + FLINK_BASE + POOL.format("g2-standard-8") + FLINK_APPLY, "used before it is pushed"),
        (
            SETUP + "emotrace analyze --input gs://b/m.csv --output gs://b/o --run-id daily-2026-11-24 "
            "--dataflow_service_options 'worker_accelerator=type:nvidia-l4;count:1' "
            "--resource_hints min_ram=24GB",
            "cannot be combined with resource hints",  # issue 19, 4
        ),
        (
            SETUP + "emotrace analyze --input gs://b/m.csv --output gs://b/o --run-id daily-2026-11-24 "
            "--runner DaskRunner --dask_client_address tcp://s:8786",
            "Beam knows the Dask runner only as",  # issue 16: Beam's short names omit it
        ),
        (
            SETUP + "emotrace analyze --input gs://b/m.csv --output gs://b/o --run-id daily-2026-11-24 "
            "--runner apache_beam.runners.dask.dask_runner.DaskRunner",
            "starts a LocalCluster on the submitting machine",
        ),
    ],
)
def test_the_stand_ins_refuse_a_broken_guide(tmp_path: Path, guide: str, problem: str):
    require_envsubst()
    got = walk(tmp_path, [Block("test", guide)], repo=REPO)
    assert got.returncode != 0
    assert any(problem in p for p in got.state["problems"]) or problem in got.output, got.failure()


def test_a_run_without_the_one_run_id_format_is_reported():
    assert run_id_problems([["cron", "daily-2026-11-24"]]) == []
    assert run_id_problems([["Airflow DAG", "daily-20261124"]]) == [
        "Airflow DAG: run id 'daily-20261124' is not daily-YYYY-MM-DD"
    ]
    assert run_id_problems([["emotrace analyze", None]])  # run_on_flink.sh before issue 19 passed none


def test_the_walk_stops_at_an_unset_variable(tmp_path: Path):
    got = walk(tmp_path, [Block("test", 'gsutil mb "gs://${BUCKET}"')], repo=REPO)
    assert got.returncode != 0 and "BUCKET: unbound variable" in got.output
