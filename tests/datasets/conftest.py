"""Fixtures of the datasets tier: a real face picture with its detection (skimage's astronaut)."""

from __future__ import annotations

import pytest
from skimage import data

from emotrace.datasets.face_pool import BaseFace
from emotrace.datasets.synth_face import astronaut_rig
from emotrace.schemas.records import FaceDetection


@pytest.fixture(scope="module")
def face() -> BaseFace:
    """The astronaut photo's face, detected as the synthetic corpus's rig places it (source 0, frame 0)."""
    rig = astronaut_rig()
    return BaseFace(0, 0, data.astronaut(), FaceDetection(rig.face_box, 0.99, rig.landmarks))
