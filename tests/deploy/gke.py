"""GKE node sizing: what a Standard node pool's machine leaves allocatable, and what a TaskManager pod
of deploy/flink/flink-deployment.yaml asks for. Shared by test_flink_sizing.py and the walkthrough's
stand-in kubectl (standins.py).

A TaskManager pod of deploy/flink/flink-deployment.yaml fits the GPU node type docs/deploy.md creates.

GKE reserves part of every node for the kubelet and the OS (Standard node pools, "Plan GKE node sizes":
cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes): CPU 6 % of the first core, 1 % of the
next, 0.5 % of the next 2 and 0.25 % above 4; memory 25 % of the first 4 GiB, 20 % of the next 4, 10 % of
the next 8, 6 % of the next 112 and 2 % above 128 GiB, plus 100 MiB for eviction. System DaemonSets
(kube-proxy, logging and metrics agents, the NVIDIA device plugin) take more; their share is an assumed
budget here, not a measurement.
"""

from __future__ import annotations

import re

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
