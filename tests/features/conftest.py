"""Shared fixtures for the features tier: one detector, the astronaut photo, warm acoustics."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from emotrace.features.faces import FaceDetector
from emotrace.schemas.config import FaceConfig
from emotrace.schemas.records import FaceDetection


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    return FaceDetector(FaceConfig())


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    image = skimage.data.astronaut()
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8
    return image


@pytest.fixture(scope="session")
def astronaut_face_box() -> np.ndarray:
    """The astronaut's face as (x0, y0, x1, y1): the reference x177 y56 w95 h120."""
    return np.array([177.0, 56.0, 177.0 + 95.0, 56.0 + 120.0])


@pytest.fixture(scope="session")
def astronaut_face(detector: FaceDetector, astronaut: np.ndarray) -> FaceDetection:
    faces = detector.detect(astronaut[None])[0]
    assert len(faces) == 1, faces
    return faces[0]


@pytest.fixture(scope="session")
def warm_acoustics() -> None:
    """The descriptor stage's first call (FFT plans) happens once per session, not inside a test."""
    from emotrace.features.acoustics import warm_up

    warm_up()
