"""Recording stand-ins for the tools docs/deploy.md runs: docker, gcloud, gsutil, kubectl, helm, emotrace.

Run as ``python standins.py TOOL ARG...`` by the shims test_walkthrough.py puts first on PATH. Each call is
appended to a shared state (``$WALK_STATE/state.json``, under a lock: a backgrounded port-forward may run
beside the next command), and checked against what the guide must already have done: an image is built
before it is pushed and pushed before anything uses it, a file a command names exists, no placeholder
survives into a command or a manifest, a namespace exists before anything is applied into it, a service
account before a pod runs as it, a TaskManager pod fits the node pool made for it, and every run names its
run id. A broken expectation is recorded as a problem and the call exits 1, as the real tool mostly would.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.deploy.gke import DAEMONSET_BUDGET, MACHINES, allocatable, taskmanager_requests

STATE = Path(os.environ.get("WALK_STATE", "."))
SETTINGS = [n for n in os.environ.get("WALK_SETTINGS", "").split(",") if n]
GENERIC = ["PROJECT_ID", "PROJECT_NUMBER", "HOST", "JOBSERVER", "BUCKET", "PROJECT", "REGION", "ZONE"]
PLACEHOLDER = re.compile(
    r"\.\.\.|<[A-Za-z_ -]+>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|YOUR_[A-Z_]+|"
    r"(?<![A-Za-z0-9_])(?:"
    + "|".join(sorted(set(SETTINGS + GENERIC), key=len, reverse=True))
    + r")(?![A-Za-z0-9_])"
)
OUR_REGISTRY = re.compile(r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[^/]+)/(?P<repo>[^/]+)/")
JOB_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # Dataflow job names
EMPTY: dict[str, Any] = {
    "calls": [],
    "problems": [],
    "built": [],
    "pushed": [],
    "docker_auth": [],
    "ar_repos": [],
    "buckets": [],
    "specs": {},
    "namespaces": ["default", "kube-system"],
    "service_accounts": [],
    "operator": None,
    "helm_repos": [],
    "node_pools": [],
    "iam": [],
    "credentials": False,
    "gcs_ksas": [],
    "run_ids": [],
    "flex_runs": [],
    "analyze_runs": [],
    "applied": [],
    "project": None,
}


def flat(lists: Any) -> list[str]:
    return [item for values in lists for item in values]


class Problem(Exception):
    """What the real tool (or the cloud behind it) would refuse."""


@contextlib.contextmanager
def state() -> Iterator[dict[str, Any]]:
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "state.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = STATE / "state.json"
        data = {**EMPTY, **json.loads(path.read_text())} if path.exists() else json.loads(json.dumps(EMPTY))
        yield data
        path.write_text(json.dumps(data, indent=1))


def check_placeholders(where: str, values: list[str]) -> None:
    for value in values:
        found = PLACEHOLDER.search(value)
        if found:
            raise Problem(f"{where}: placeholder {found.group(0)!r} left in {value!r}")


def options(argv: list[str], flags_with_values: set[str]) -> tuple[dict[str, list[str]], list[str]]:
    """``--flag value``, ``--flag=value`` and ``-f value`` -> {flag: [values]}; the rest positional."""
    opts: dict[str, list[str]] = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and arg != "-":
            name, sep, value = arg.partition("=")
            if not sep and name in flags_with_values and i + 1 < len(argv):
                value, i = argv[i + 1], i + 1
            opts.setdefault(name, []).append(value)
        else:
            rest.append(arg)
        i += 1
    return opts, rest


def need_file(path: str, what: str) -> Path:
    if not Path(path).is_file():
        raise Problem(f"{what}: no file {path!r} (cwd {os.getcwd()})")
    return Path(path)


def need_bucket(s: dict[str, Any], uri: str, what: str) -> None:
    bucket = uri.removeprefix("gs://").split("/", 1)[0]
    if uri.startswith("gs://") and bucket not in s["buckets"]:
        raise Problem(f"{what}: bucket gs://{bucket} was never created")


def need_pushed(s: dict[str, Any], image: str, what: str) -> None:
    if OUR_REGISTRY.match(image) and image not in s["pushed"]:
        raise Problem(f"{what}: image {image} is used before it is pushed")


# ---- docker ---------------------------------------------------------------------------------------------
def dockerfile_args(text: str, build_args: dict[str, str]) -> dict[str, str]:
    values = {}
    for name, default in re.findall(r"^ARG\s+([A-Z_]+)(?:=(\S+))?", text, flags=re.M):
        values.setdefault(name, build_args.get(name, default))
    return values


def docker(s: dict[str, Any], argv: list[str]) -> None:
    if argv[:1] == ["build"]:
        opts, rest = options(argv[1:], {"-f", "--file", "-t", "--tag", "--build-arg", "--platform"})
        context = Path(rest[-1]) if rest else None
        if context is None or not context.is_dir():
            raise Problem(f"docker build: no build context {rest}")
        dockerfile = need_file(
            (opts.get("-f") or opts.get("--file") or [str(context / "Dockerfile")])[0], "docker"
        )
        build_args = dict(a.split("=", 1) for a in opts.get("--build-arg", []))
        text = dockerfile.read_text(encoding="utf-8")
        args = dockerfile_args(text, build_args)
        for name in set(build_args) - set(args):
            raise Problem(
                f"docker build: --build-arg {name} is not an ARG of {dockerfile} (silently ignored)"
            )
        resolve = lambda v: re.sub(r"\$\{?([A-Z_]+)\}?", lambda m: args.get(m.group(1)) or "", v)  # noqa: E731
        for line in re.findall(r"^COPY\s+(?!--from)(.+)$", text, flags=re.M):
            for src in resolve(line).split()[:-1]:
                if not (context / src).exists():
                    raise Problem(f"docker build: COPY {src} is not in the build context")
        for image in re.findall(r"^FROM\s+(\S+)", text, flags=re.M):
            image = resolve(image)
            if OUR_REGISTRY.match(image) and image not in s["built"] + s["pushed"]:
                raise Problem(f"docker build: FROM {image}, which was never built")
        tags = opts.get("-t", []) + opts.get("--tag", [])
        check_placeholders("docker build", [*tags, *build_args.values()])
        s["built"] += tags
    elif argv[:1] == ["push"]:
        image = argv[-1]
        check_placeholders("docker push", [image])
        if image not in s["built"]:
            raise Problem(f"docker push: {image} was never built")
        m = OUR_REGISTRY.match(image)
        if m:
            if f"{m['location']}-docker.pkg.dev" not in s["docker_auth"]:
                raise Problem(f"docker push {image}: no `gcloud auth configure-docker` for its registry")
            if [m["project"], m["location"], m["repo"]] not in s["ar_repos"]:
                raise Problem(
                    f"docker push {image}: Artifact Registry repository {m['repo']} was never created"
                )
        s["pushed"].append(image)


# ---- gcloud ---------------------------------------------------------------------------------------------
def flex_parameters(values: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for value in values:
        sep = ","
        if value.startswith("^"):
            sep, value = value[1:].split("^", 1)
        for item in value.split(sep):
            key, _, val = item.partition("=")
            params[key] = val
    return params


def flex_run(s: dict[str, Any], name: str, opts: dict[str, list[str]]) -> None:
    if not JOB_NAME.match(name):
        raise Problem(f"flex-template run: {name!r} is not a valid Dataflow job name")
    spec = (opts.get("--template-file-gcs-location") or [""])[0]
    if spec not in s["specs"]:
        raise Problem(f"flex-template run: template spec {spec!r} was never built")
    params = flex_parameters(opts.get("--parameters", []))
    check_placeholders("flex-template run", [name, *params.values(), *flat(opts.values())])
    metadata = json.loads(Path("deploy/dataflow/metadata.json").read_text())
    known = {p["name"] for p in metadata["parameters"]}
    beam = {
        "sdk_container_image",
        "dataflow_service_options",
        "number_of_worker_harness_threads",
        "experiments",
        "resource_hints",
    }
    if set(params) - known - beam:
        raise Problem(f"flex-template run: not template parameters: {sorted(set(params) - known - beam)}")
    for key in ("input", "output"):
        need_bucket(s, params.get(key, ""), f"flex-template run {key}")
    need_pushed(s, params.get("sdk_container_image", ""), "flex-template run")
    beam_args = [f"--{k}={v}" for k, v in params.items() if k in beam]
    beam_args += [
        f"--experiments={e}" for e in flat(v.split(",") for v in opts.get("--additional-experiments", []))
    ]
    gpu_conflict(beam_args, params.get("inference_hints"), "flex-template run")
    s["run_ids"].append(["flex-template run", params.get("run_id")])
    s["flex_runs"].append(params)


def gpu_conflict(beam_args: list[str], inference_hints: str | None, where: str) -> None:
    from apache_beam.options.pipeline_options import PipelineOptions

    from emotrace.pipelines.analyze import gpu_model_conflict, parse_hints

    conflict = gpu_model_conflict(PipelineOptions(beam_args), parse_hints(inference_hints))
    if conflict:
        raise Problem(f"{where}: {conflict}")


def gcloud(s: dict[str, Any], argv: list[str]) -> None:
    valued = {
        "--project",
        "--location",
        "--repository-format",
        "--image",
        "--sdk-language",
        "--metadata-file",
        "--template-file-gcs-location",
        "--region",
        "--parameters",
        "--format",
        "--role",
        "--member",
        "--cluster",
        "--machine-type",
        "--accelerator",
        "--num-nodes",
        "--node-locations",
        "--workload-pool",
        "--workload-metadata",
        "--worker-machine-type",
        "--max-workers",
        "--temp-location",
        "--staging-location",
        "--additional-experiments",
    }
    opts, rest = options(argv, valued)
    check_placeholders("gcloud", [*rest, *(v for k, vs in opts.items() if k != "--parameters" for v in vs)])
    project = (opts.get("--project") or [s["project"]])[0]
    words = " ".join(rest[:3])
    if rest[:3] == ["config", "set", "project"]:
        s["project"] = rest[3]
    elif rest[:2] == ["projects", "describe"]:
        print("123456789012")  # a project number
    elif words == "artifacts repositories create":
        if not project:
            raise Problem(
                "gcloud artifacts repositories create: no --project and no `gcloud config set project`"
            )
        s["ar_repos"].append([project, opts["--location"][0], rest[3]])
    elif rest[:2] == ["auth", "configure-docker"]:
        s["docker_auth"] += rest[2].split(",")
    elif words == "artifacts docker images":  # describe IMAGE: exit status is the answer
        if rest[4] not in s["pushed"]:
            print(f"ERROR: (gcloud.artifacts.docker.images.describe) NOT_FOUND: {rest[4]}", file=sys.stderr)
            raise SystemExit(1)
    elif words == "dataflow flex-template build":
        need_file(opts["--metadata-file"][0], "flex-template build --metadata-file")
        need_pushed(s, opts["--image"][0], "flex-template build")
        need_bucket(s, rest[3], "flex-template build")
        s["specs"][rest[3]] = opts["--image"][0]
    elif words == "dataflow flex-template run":
        flex_run(s, rest[3], opts)
    elif words in ("container clusters get-credentials", "container clusters update"):
        s["credentials"] = s["credentials"] or rest[2] == "get-credentials"
    elif words == "container node-pools create":
        accelerator = dict(kv.split("=", 1) for kv in opts.get("--accelerator", [""])[0].split(",") if kv)
        s["node_pools"].append(
            {"machine_type": opts["--machine-type"][0], "accelerator": accelerator.get("type")}
        )
    elif words == "storage buckets add-iam-policy-binding":
        need_bucket(s, rest[3], "gcloud storage buckets add-iam-policy-binding")
        s["iam"].append({"bucket": rest[3], "member": opts["--member"][0], "role": opts["--role"][0]})


# ---- gsutil, helm ---------------------------------------------------------------------------------------
def gsutil(s: dict[str, Any], argv: list[str]) -> None:
    opts, rest = options(argv, {"-p", "-l", "-c"})
    check_placeholders("gsutil", rest + flat(opts.values()))
    if rest[:1] == ["mb"]:
        s["buckets"].append(rest[1].removeprefix("gs://").rstrip("/"))
    elif rest[:1] == ["cp"]:
        for src in rest[1:-1]:
            if not src.startswith("gs://"):
                need_file(src, "gsutil cp")
        need_bucket(s, rest[-1], "gsutil cp")


def helm(s: dict[str, Any], argv: list[str]) -> None:
    opts, rest = options(argv, {"--version", "--namespace", "-n", "--set", "-f", "--values"})
    check_placeholders("helm", rest + flat(opts.values()))
    if rest[:2] == ["repo", "add"]:
        s["helm_repos"].append(rest[2])
    elif rest[:1] == ["install"]:
        if not s["credentials"]:
            raise Problem("helm install: no cluster credentials (gcloud container clusters get-credentials)")
        if rest[2].split("/")[0] not in s["helm_repos"]:
            raise Problem(f"helm install: chart repository of {rest[2]} was never added")
        for values in opts.get("-f", []) + opts.get("--values", []):
            need_file(values, "helm install --values")
        namespace = (opts.get("--namespace") or opts.get("-n") or ["default"])[0]
        if namespace not in s["namespaces"]:
            if "--create-namespace" not in opts:
                raise Problem(f"helm install: namespace {namespace} does not exist")
            s["namespaces"].append(namespace)
        sets = dict(v.split("=", 1) for v in opts.get("--set", []))
        watched = [n for n in sets.get("watchNamespaces", "").strip("{}").split(",") if n]
        for ns in watched:
            if ns not in s["namespaces"]:
                raise Problem(
                    f"helm install: watched namespace {ns} does not exist (the chart puts Roles there)"
                )
        s["operator"] = watched or ["*"]
        s["service_accounts"] += [f"{ns}/flink" for ns in (watched or [namespace])]


# ---- kubectl --------------------------------------------------------------------------------------------
def strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] == "FlinkDeployment":
        spec = doc["spec"]
        return [
            p["podTemplate"]["spec"]
            for p in (spec, spec.get("jobManager", {}), spec.get("taskManager", {}))
            if "podTemplate" in p
        ]
    return [doc["spec"]["template"]["spec"]] if doc["kind"] in ("Deployment", "StatefulSet", "Job") else []


def apply_doc(s: dict[str, Any], doc: dict[str, Any], default_ns: str) -> None:
    kind, meta = doc["kind"], doc.get("metadata", {})
    check_placeholders(f"kubectl apply {kind}", list(strings(doc)))
    if kind == "Namespace":
        s["namespaces"].append(meta["name"])
        return
    ns = meta.get("namespace", default_ns)
    if ns not in s["namespaces"]:
        raise Problem(f"kubectl apply {kind}/{meta.get('name')}: namespace {ns} does not exist yet")
    if kind == "ServiceAccount":
        s["service_accounts"].append(f"{ns}/{meta['name']}")
    if kind == "FlinkDeployment":
        if not s["operator"] or (ns not in s["operator"] and "*" not in s["operator"]):
            raise Problem(f"kubectl apply FlinkDeployment: no Flink operator watches namespace {ns}")
        need_pushed(s, doc["spec"].get("image", ""), "FlinkDeployment")
        check_fit(s, doc)
    pods = pod_specs(doc)
    ksa = doc["spec"].get("serviceAccount") if kind == "FlinkDeployment" else None
    for pod in pods:
        ksa = pod.get("serviceAccountName", ksa)
        for container in pod.get("containers", []):
            need_pushed(s, container.get("image", ""), f"{kind}/{meta.get('name')}")
    if pods or kind == "FlinkDeployment":
        ksa = ksa or "default"
        if ksa != "default" and f"{ns}/{ksa}" not in s["service_accounts"]:
            raise Problem(
                f"kubectl apply {kind}/{meta.get('name')}: service account {ns}/{ksa} does not exist"
            )
        if kind == "FlinkDeployment" or any("gs://" in v for v in strings(doc)):
            s["gcs_ksas"].append(f"{ns}/{ksa}")
    s["applied"].append(f"{ns}/{kind}/{meta.get('name')}")


def check_fit(s: dict[str, Any], doc: dict[str, Any]) -> None:
    tm_pod = doc["spec"]["taskManager"]["podTemplate"]["spec"]
    gpu = tm_pod.get("nodeSelector", {}).get("cloud.google.com/gke-accelerator")
    pools = [p for p in s["node_pools"] if p["accelerator"] == gpu]
    if not pools:
        raise Problem(f"FlinkDeployment: no node pool with {gpu} GPUs was created for the TaskManagers")
    cpu, mem = taskmanager_requests(doc)
    for pool in pools:
        machine = pool["machine_type"]
        if machine not in MACHINES:
            raise Problem(f"FlinkDeployment: node pool machine type {machine} is not one the sizing knows")
        cpu_free, mem_free = allocatable(machine)
        if cpu > cpu_free - DAEMONSET_BUDGET[0] or mem > mem_free - DAEMONSET_BUDGET[1]:
            raise Problem(
                f"FlinkDeployment: a TaskManager pod ({cpu} CPU, {mem:.1f} GiB) does not fit {machine}"
            )


def kubectl(s: dict[str, Any], argv: list[str], stdin: str) -> None:
    opts, rest = options(argv, {"-n", "--namespace", "-f", "--filename"})
    check_placeholders("kubectl", rest + flat(opts.values()))
    if not s["credentials"]:
        raise Problem("kubectl: no cluster credentials (gcloud container clusters get-credentials)")
    namespace = (opts.get("-n") or opts.get("--namespace") or ["default"])[0]
    if rest[:2] == ["create", "namespace"]:
        s["namespaces"].append(rest[2])
        return
    if rest[:1] != ["apply"] and namespace not in s["namespaces"]:
        raise Problem(f"kubectl {' '.join(rest)}: namespace {namespace} does not exist")
    if rest[:1] == ["apply"]:
        for name in opts.get("-f", []) + opts.get("--filename", []):
            text = stdin if name == "-" else need_file(name, "kubectl apply -f").read_text(encoding="utf-8")
            for doc in yaml.safe_load_all(text):
                if doc:
                    apply_doc(s, doc, namespace)


# ---- emotrace -------------------------------------------------------------------------------------------
def emotrace(s: dict[str, Any], argv: list[str]) -> None:
    if argv[:1] != ["analyze"]:
        return
    import argparse

    from emotrace.pipelines.options import add_analyze_args

    parser = argparse.ArgumentParser(prog="emotrace analyze", exit_on_error=False)
    add_analyze_args(parser)
    try:
        args, beam_args = parser.parse_known_args(argv[1:])
    except (argparse.ArgumentError, SystemExit) as err:
        raise Problem(f"emotrace analyze: {err}") from err
    check_placeholders("emotrace analyze", argv[1:])
    for uri in (args.input, args.output):
        need_bucket(s, uri, "emotrace analyze")
    beam, _ = options(
        beam_args,
        {
            "--runner",
            "--sdk_container_image",
            "--flink_version",
            "--dask_client_address",
            "--dask_scheduler_file",
        },
    )
    for image in beam.get("--sdk_container_image", []):
        need_pushed(s, image, "emotrace analyze")
    dask_runner(beam)
    if beam.get("--runner") == ["FlinkRunner"]:
        applied = yaml.safe_load(Path("deploy/flink/flink-deployment.yaml").read_text())["spec"][
            "flinkVersion"
        ]
        if beam.get("--flink_version") != [applied[1:].replace("_", ".")]:
            raise Problem(
                f"emotrace analyze --runner FlinkRunner: --flink_version is not the cluster's {applied}"
            )
    gpu_conflict(beam_args, args.inference_hints, "emotrace analyze")
    s["run_ids"].append(["emotrace analyze", args.run_id])
    s["analyze_runs"].append(argv[1:])


DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"


def dask_runner(beam: dict[str, list[str]]) -> None:
    """What Beam 2.77 would refuse or do unasked with the Dask runner: a short name (not among Beam's
    runner names), or no scheduler (the runner starts a LocalCluster on the submitting machine)."""
    runner = (beam.get("--runner") or [""])[-1]
    if runner.rsplit(".", 1)[-1] != "DaskRunner":
        return
    if runner != DASK_RUNNER:
        raise Problem(f"emotrace analyze --runner {runner}: Beam knows the Dask runner only as {DASK_RUNNER}")
    if not (beam.get("--dask_client_address") or beam.get("--dask_scheduler_file")):
        raise Problem(
            "emotrace analyze: the Dask runner without --dask_client_address or --dask_scheduler_file starts "
            "a LocalCluster on the submitting machine, not on the team's cluster"
        )


TOOLS: dict[str, Callable[..., None]] = {
    "docker": docker,
    "gcloud": gcloud,
    "gsutil": gsutil,
    "helm": helm,
    "emotrace": emotrace,
}


def main(tool: str, argv: list[str]) -> int:
    stdin = sys.stdin.read() if tool == "kubectl" and "-" in argv else ""
    with state() as s:
        s["calls"].append({"tool": tool, "argv": argv})
        try:
            if tool == "kubectl":
                kubectl(s, argv, stdin)
            else:
                TOOLS[tool](s, argv)
        except Problem as problem:
            s["problems"].append(str(problem))
            print(f"[stand-in {tool}] {problem}", file=sys.stderr)
            return 1
        except (KeyError, IndexError) as err:  # an argument the guide must give is missing
            s["problems"].append(f"{tool} {shlex.join(argv)}: missing {err}")
            print(f"[stand-in {tool}] missing {err} in {shlex.join(argv)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
