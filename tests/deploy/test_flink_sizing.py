"""A TaskManager pod of deploy/flink/flink-deployment.yaml fits the GPU node type docs/deploy.md creates
(GKE's reservation formula and the assumed DaemonSet budget: tests/deploy/gke.py).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from tests.deploy.gke import DAEMONSET_BUDGET, MACHINES, allocatable, taskmanager_requests

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "deploy.md"
FLINK = REPO / "deploy" / "flink" / "flink-deployment.yaml"


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
