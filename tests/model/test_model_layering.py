import subprocess
import sys

from emotrace.model.bundle import make_untrained_bundle

NAMES = ["a", "b", "c"]

SCRIPT = """
import sys
from emotrace.model.bundle import make_untrained_bundle
print(make_untrained_bundle({names!r}, seed=0, crop_size_px=32, face_channels=(8, 8, 8, 8, 8)).version)
print("apache_beam" in sys.modules)
"""


def test_fresh_process_gets_same_version_and_no_beam():
    """The core never imports Beam, and the untrained version does not depend on the process
    (no hash randomisation, no leftover RNG state)."""
    here = make_untrained_bundle(NAMES, seed=0, crop_size_px=32, face_channels=(8, 8, 8, 8, 8)).version
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(names=NAMES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    version, beam_loaded = result.stdout.split()
    assert version == here
    assert beam_loaded == "False"
