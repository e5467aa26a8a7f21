"""configure_worker (issue 17): the one place process-wide settings are made, idempotent, and the model
stage on CPU gets one torch thread. In a fresh interpreter: the settings change the whole process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import torch
    torch.set_num_threads(2)
    from emotrace.media.malloc import bound_heap_growth
    from emotrace.transforms.worker import configure_worker
    configure_worker()  # the decoding stage: heap bounds only
    assert torch.get_num_threads() == 2
    assert bound_heap_growth.cache_info().currsize == 1  # applied (once: cached)
    configure_worker(model_on_cpu=True)
    configure_worker(model_on_cpu=True)
    assert torch.get_num_threads() == 1
    assert bound_heap_growth.cache_info().misses == 1
    print("ok")
    """
)


def test_configure_worker_applies_each_setting_once() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_no_other_product_module_changes_process_wide_settings() -> None:
    from tests.house.import_tree import REPO

    # The training command is its own process and sets its threads in its entry point (and in model/'s
    # training loops, which only it runs); every process that runs analyze's stages goes through worker.py.
    allowed = {"transforms/worker.py", "media/malloc.py", "media/gc_freeze.py", "pipelines/train_real.py"}
    found = []
    for layer in ("media", "features", "schemas", "transforms", "pipelines"):
        for path in sorted((REPO / layer).glob("*.py")):
            text = path.read_text(encoding="utf-8")
            rel = str(path.relative_to(REPO))
            for call in (
                "set_num_threads(",
                "bound_heap_growth()",
                "mallopt(",
                "gc.freeze(",
                "gc.disable(",
                "freeze_loaded_objects(",
                "frozen_after_loading(",
            ):
                if call in text and rel not in allowed:
                    found.append(f"{rel}: {call}")
    assert found == []
