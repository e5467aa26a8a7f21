"""Checks a launcher makes before any work: the output can be written, the input and the model exist.

Each failure is a :class:`~emotrace.pipelines.options.UsageError`: one line naming the option and
what is wrong, exit status 2, before a bundle is loaded or a video decoded.
"""

from __future__ import annotations

import os

from emotrace.datasets.inputs import VIDEO_EXTENSIONS, has_inputs, is_manifest
from emotrace.model.bundle import ModelBundle
from emotrace.pipelines.options import UsageError
from emotrace.schemas.uris import canonical_uri, local_path
from emotrace.transforms import io as fs
from emotrace.transforms.inference import open_bundle


def check_output(output: str) -> None:
    """``--output`` exists or can be made, is a folder, and takes a write (gs:// included)."""
    problem = fs.check_writable(canonical_uri(output))
    if problem:
        raise UsageError(f"argument --output: {output}: {problem}")


def check_input(spec: str) -> None:
    """``--input`` names something: a manifest file, a folder, or one video, or is a glob; and it gives
    at least one input. Read no further than the first input: the job reads the rest."""
    uri = canonical_uri(spec)
    problem = fs.filesystem_problem(uri)
    if problem:
        raise UsageError(f"argument --input: {spec}: {problem}")
    if not any(ch in spec for ch in "*?["):
        _check_named(spec, uri)
    if not has_inputs(spec, fs.INPUTS):
        raise UsageError(f"argument --input: {spec}: 0 inputs found (nothing to analyse)")


def _check_named(spec: str, uri: str) -> None:
    """A plain ``--input`` path exists, and is a manifest file, a folder or a video."""
    path = local_path(uri)
    if path is None:
        found = fs.exists(uri) or bool(fs.match(uri.rstrip("/") + "/*"))
    else:
        found = os.path.exists(path)
        if found and is_manifest(path) and not os.path.isfile(path):
            raise UsageError(f"argument --input: {spec}: a manifest must be a file")
        video = path.lower().endswith(VIDEO_EXTENSIONS)
        if found and not is_manifest(path) and not video and not os.path.isdir(path):
            raise UsageError(f"argument --input: {spec}: not a manifest (.csv, .jsonl), folder or video")
    if not found:
        raise UsageError(f"argument --input: {spec}: no such file or folder")


def open_model(model: str | None, face_weights: str | None) -> ModelBundle:
    """The model bundle (``--model``; None: the demo bundle), after checking ``--face-weights`` exists."""
    for option, uri in (("--model", model), ("--face-weights", face_weights)):
        if uri is None:
            continue
        problem = fs.filesystem_problem(canonical_uri(uri))
        if problem or not fs.exists(canonical_uri(uri)):
            raise UsageError(f"argument {option}: {uri}: {problem or 'no such file'}")
    try:
        return open_bundle(canonical_uri(model) if model is not None else None)
    except Exception as err:  # a file that is not a bundle: say so, not a traceback
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise UsageError(f"argument --model: {model}: not a readable model bundle ({reason})") from err
