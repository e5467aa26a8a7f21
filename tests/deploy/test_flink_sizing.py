"""A TaskManager pod of deploy/flink/flink-deployment.yaml fits the GPU node type docs/deploy.md creates.

GKE reserves part of every node for the kubelet and the OS (Standard node pools, "Plan GKE node sizes":
cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes): CPU 6 % of the first core, 1 % of the
next, 0.5 % of the next 2 and 0.25 % above 4; memory 25 % of the first 4 GiB, 20 % of the next 4, 10 % of
the next 8, 6 % of the next 112 and 2 % above 128 GiB, plus 100 MiB for eviction. System DaemonSets
(kube-proxy, logging and metrics agents, the NVIDIA device plugin) take more; their share is an assumed
budget here, not a measurement.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "deploy.md"
FLINK = REPO / "deploy" / "flink" / "flink-deployment.yaml"
# vCPU, memory GiB (Compute Engine machine types; G2 carries the L4 GPUs)
MACHINES = {"g2-standard-4": (4, 16), "g2-standard-8": (8, 32), "g2-standard-12": (12, 48)}
DAEMONSET_BUDGET = (0.5, 1.0)  # CPU, GiB: assumed, see the module docstring


def _tiered(total: float, tiers: list[tuple[float, float]], rest: float) -> float:
    reserved, left = 0.0, total
    for size, share in tiers:
        part = min(left, size)
        reserved, left = reserved + part * share, left - part
    return reserved + left * rest


def allocatable(machine: str) -> tuple[float, float]:
    cpu, mem = MACHINES[machine]
    cpu_reserved = _tiered(cpu, [(1, 0.06), (1, 0.01), (2, 0.005)], 0.0025)
    mem_reserved = _tiered(mem, [(4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06)], 0.02) + 100 / 1024
    return cpu - cpu_reserved, mem - mem_reserved


def cpu_of(value: str | float) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def gib_of(value: str) -> float:
    """Kubernetes quantities (``20Gi``, ``512Mi``) and Flink memory sizes (``4096m`` = MiB, ``4g``)."""
    units = {"Gi": 1.0, "Mi": 1 / 1024, "G": 1e9 / 2**30, "M": 1e6 / 2**30, "g": 1.0, "m": 1 / 1024}
    match = re.fullmatch(r"([0-9.]+)\s*(Gi|Mi|G|M|g|m)", str(value))
    assert match, value
    return float(match.group(1)) * units[match.group(2)]


def taskmanager_requests(flink: dict) -> tuple[float, float]:
    """CPU and GiB the scheduler must find for one TaskManager pod: Flink's container gets the
    taskManager.resource values as its requests; the other containers request what they say."""
    tm = flink["spec"]["taskManager"]
    cpu, mem = float(tm["resource"]["cpu"]), gib_of(tm["resource"]["memory"])
    for container in tm["podTemplate"]["spec"]["containers"]:
        requests = container.get("resources", {}).get("requests", {})
        cpu += cpu_of(requests.get("cpu", 0))
        mem += gib_of(requests["memory"]) if "memory" in requests else 0.0
    return cpu, mem


def guide_gpu_machine_type() -> str:
    """The --machine-type of the guide's GPU node-pool command."""
    text = GUIDE.read_text(encoding="utf-8").replace("\\\n", " ")
    (line,) = [ln for ln in text.splitlines() if "node-pools create" in ln and "--accelerator" in ln]
    argv = shlex.split(line)
    flag = next(a for a in argv if a.startswith("--machine-type"))
    return flag.split("=", 1)[1] if "=" in flag else argv[argv.index(flag) + 1]


def test_gke_allocatable_worked_by_hand_for_g2_standard_8():
    # CPU: 0.06 + 0.01 + 2 x 0.005 + 4 x 0.0025 reserved; memory: 1 + 0.8 + 0.8 + 16 x 0.06 GiB + 100 MiB.
    cpu, mem = allocatable("g2-standard-8")
    assert abs(cpu - 7.91) < 1e-9 and abs(mem - (32 - 3.56 - 100 / 1024)) < 1e-9


def test_taskmanager_pod_fits_the_guides_gpu_node():
    machine = guide_gpu_machine_type()
    assert machine in MACHINES, machine
    cpu_free, mem_free = allocatable(machine)
    cpu_free, mem_free = cpu_free - DAEMONSET_BUDGET[0], mem_free - DAEMONSET_BUDGET[1]
    cpu, mem = taskmanager_requests(yaml.safe_load(FLINK.read_text(encoding="utf-8")))
    assert cpu <= cpu_free and mem <= mem_free, (machine, (cpu, mem), (cpu_free, mem_free))
    # ... and uses most of it: the sidecar decodes and detects on the node's CPUs.
    assert cpu >= 0.75 * MACHINES[machine][0]


def test_the_sizes_of_before_did_not_fit():
    """The check is not vacuous: the pod of issue 19 (8 + 1 CPU asked before, 8 GiB + 24 GiB) does not fit."""
    flink = yaml.safe_load(FLINK.read_text(encoding="utf-8"))
    tm = flink["spec"]["taskManager"]
    tm["resource"].update(cpu=1, memory="8192m")
    sidecar = next(c for c in tm["podTemplate"]["spec"]["containers"] if c.get("resources"))
    sidecar["resources"]["requests"].update(cpu="7", memory="24Gi")
    cpu, mem = taskmanager_requests(flink)
    cpu_free, mem_free = allocatable("g2-standard-8")
    assert cpu > cpu_free and mem > mem_free
