"""Packaging for workers (issue 9): what ``--setup_file`` stages is complete and installs on its own.

Beam's ``--setup_file`` runs ``Stager._build_setup_package`` (``python -m build --sdist``, or ``setup.py
sdist`` where ``build`` is absent) and workers ``pip install`` the tarball. These tests build the sdist the
same way and the wheel with pip, from a copy of the tree (builds write ``build/`` and ``*.egg-info`` next to
setup.py, which must not land in the shared work tree), then install the wheel with its pinned
dependencies into a fresh venv and import the worker-side modules there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE_ASSET = "_packaging_probe.pt"  # proves package_data reaches both archives, even before real assets
LEFTOVER = "_leftover.pt.ckpt"  # a training checkpoint beside the bundle must never be packaged


def _layers() -> list[str]:
    ns: dict = {}
    src = (REPO / "setup.py").read_text(encoding="utf-8")
    exec(compile(src.split("INSTALL_REQUIRES")[0], "setup.py", "exec"), ns)  # only the LAYERS list
    return ns["LAYERS"]


def expected_modules() -> dict[str, str]:
    """Every module on disk: its path in the wheel (``emotrace/<layer>/m.py``, what a worker imports) ->
    its path in the sdist (the on-disk layout, ``<layer>/m.py``, mapped into ``emotrace.*`` at install)."""
    found = {f"emotrace/{p.name}": f"emotrace/{p.name}" for p in (REPO / "emotrace").glob("*.py")}
    for layer in _layers():
        found |= {f"emotrace/{layer}/{p.name}": f"{layer}/{p.name}" for p in (REPO / layer).glob("*.py")}
    return found


def expected_assets() -> set[str]:
    assets = REPO / "emotrace" / "assets"
    real = {f"emotrace/assets/{p.name}" for p in assets.glob("*.pt") if p.is_file()}  # setup.py's pattern
    return real | {f"emotrace/assets/{PROBE_ASSET}"}


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    from apache_beam.runners.portability.stager import Stager

    work = tmp_path_factory.mktemp("pkg")
    src = work / "src"
    # Only what setuptools reads: the work tree may hold large untracked data (caches, corpora, outputs).
    src.mkdir()
    for name in ["setup.py", "pyproject.toml", "MANIFEST.in"]:
        if (REPO / name).exists():
            shutil.copy(REPO / name, src / name)
    for folder in ["emotrace", *_layers()]:
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "emotrace" / "assets").mkdir(exist_ok=True)
    (src / "emotrace" / "assets" / PROBE_ASSET).write_text("probe\n", encoding="utf-8")
    (src / "emotrace" / "assets" / LEFTOVER).write_text("not for shipping\n", encoding="utf-8")
    sdist_dir, wheel_dir = work / "sdist", work / "wheel"
    sdist_dir.mkdir()
    cwd = os.getcwd()
    try:
        # Exactly what --setup_file runs at submit time.
        sdist = Path(Stager._build_setup_package(str(src / "setup.py"), str(sdist_dir)))
    finally:
        os.chdir(cwd)  # the stager chdirs into the setup.py folder
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*pip_wheel, "-w", str(wheel_dir), str(src)],
        check=True,
        timeout=300,
    )
    (wheel,) = wheel_dir.glob("emotrace-*.whl")
    yield {"sdist": sdist, "wheel": wheel, "work": work}
    # The venv holds ~1.5 GB of its own (pytest would keep its last 3 tmp trees), so it is renamed away at
    # once and removed by a detached `rm` the suite need not await.
    trash = work.with_name(work.name + "-trash")
    work.rename(trash)
    subprocess.Popen(["rm", "-rf", str(trash)], start_new_session=True)


def test_sdist_from_setup_file_holds_every_module_and_asset(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    on_disk = set(expected_modules().values())
    assert on_disk <= names, sorted(on_disk - names)
    assert expected_assets() <= names, sorted(expected_assets() - names)
    assert f"emotrace/assets/{LEFTOVER}" not in names
    assert {"setup.py", "pyproject.toml"} <= names


def test_wheel_holds_every_module_and_asset(dists):
    names = set(zipfile.ZipFile(dists["wheel"]).namelist())
    wanted = set(expected_modules())
    assert wanted <= names, sorted(wanted - names)
    assert expected_assets() <= names, sorted(expected_assets() - names)
    assert f"emotrace/assets/{LEFTOVER}" not in names
    # No generic top-level package may reach a worker's site-packages (architecture.md).
    assert {n.split("/")[0] for n in names if not n.startswith("emotrace-")} == {"emotrace"}


IMPORT_CHECK = """
import json, importlib.resources as r, emotrace
import emotrace.transforms.extract, emotrace.transforms.inference, emotrace.pipelines.analyze
from emotrace.transforms.inference import open_bundle
print(json.dumps({
    "file": emotrace.__file__,
    "assets": sorted(p.name for p in r.files("emotrace").joinpath("assets").iterdir()),
    "bundle": open_bundle(None).version,
}))
"""


# torch's CUDA build and the wheels it pulls (nvidia-*, cuda-*, triton): ~5.5 of the clean venv's ~7 GB.
HEAVY_PREFIXES = ("torch", "triton", "nvidia-", "cuda-")


def _seed_heavy_wheels(venv: Path) -> list[str]:
    """Hard-link the test venv's own copies of the heaviest pinned distributions into ``venv``.

    A CI run failed with ENOSPC here: the disk is shared, and a second 7 GB venv did not fit. The linked
    files are the very wheels setup.py pins (the test venv was installed from the same pins), so pip still
    resolves every requirement of the wheel, finds these satisfied at the pinned version and installs the
    rest; ``pip check`` then checks the whole set. A full from-scratch resolution is checked separately with
    ``--dry-run --ignore-installed``. Links cost no space; across devices this falls back to a real install.
    """
    from importlib import metadata

    site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    seeded = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"].lower()
        if not name.startswith(HEAVY_PREFIXES) or name == "torchvision":
            continue
        for rel in dist.files or []:
            if str(rel).startswith(".."):  # console scripts outside site-packages: not imported
                continue
            src, dst = Path(dist.locate_file(rel)), site / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_file() and not dst.exists():
                try:
                    os.link(src, dst)
                except OSError:  # another device: leave the rest to pip
                    return seeded
        seeded.append(name)
    return seeded


@pytest.mark.slow
def test_wheel_installs_with_pinned_deps_in_a_clean_venv(dists):
    venv = dists["work"] / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    py = venv / "bin" / "python"
    # Every pin resolves from nothing (no install, no disk): the seeded install below cannot hide a conflict.
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed", dists["wheel"]],
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )
    assert "torch" in _seed_heavy_wheels(venv)
    # Pinned deps come from the machine's package index; --no-compile skips byte-compiling torch's
    # ~20k files (about half the install time here); workers compile lazily on import instead.
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-compile", dists["wheel"]],
        check=True,
        timeout=540,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run([py, "-m", "pip", "check"], check=True, timeout=120)
    out = subprocess.run(
        [py, "-c", IMPORT_CHECK], check=True, timeout=180, capture_output=True, text=True, cwd=dists["work"]
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(got["file"]).is_relative_to(venv), got["file"]  # the installed copy, not the work tree
    assert {Path(a).name for a in expected_assets()} <= set(got["assets"])
    assert got["bundle"]
    assert (venv / "bin" / "emotrace").exists()  # the console script workers and cron call
