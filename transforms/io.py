"""Beam FileSystems adapters: the core takes callables and local paths; these supply them for any
scheme Beam knows (local, gs://, s3:// with the right extras)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from emotrace.datasets.inputs import InputSource
from emotrace.schemas.errors import EmotraceError, ErrorCode
from emotrace.schemas.uris import local_path, uri_scheme

_COPY_BLOCK = 8 << 20
# scheme -> what installs a filesystem for it (emotrace's own extra where it has one)
INSTALL = {"gs": "emotrace[gcp]", "s3": "apache-beam[aws]", "azfs": "apache-beam[azure]"}


def filesystem_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be read or written here (no filesystem for its scheme), with advice; or None."""
    if local_path(uri) is not None:
        return None
    try:
        FileSystems.get_filesystem(uri)
    except ValueError:
        scheme = uri_scheme(uri)
        package = INSTALL.get(scheme)
        if package is None:
            return f"no filesystem for {scheme}:// is installed here (Beam has none for that scheme)"
        return f"no filesystem for {scheme}:// is installed here: install {package} (pip install '{package}')"
    return None


def beam_path(uri: str) -> str:
    """What Beam's FileSystems accept: a plain path for ``file://`` URIs (Beam knows no file scheme)."""
    path = local_path(uri)
    return path if path is not None else uri


def match(pattern: str) -> list[str]:
    """URIs of the files matching ``pattern`` (a glob or a plain path)."""
    result = FileSystems.match([beam_path(pattern)])[0]
    return [m.path for m in result.metadata_list]


def glob_inputs(pattern: str) -> Iterator[str]:
    """``--input`` as a glob: a local one also matches broken links, link loops and folders (each then
    gets a row with a code), which Beam's match drops silently. Lazy on a local disk."""
    path = local_path(pattern)
    yield from glob.iglob(path, recursive=True) if path is not None else match(pattern)


def list_folder(folder: str) -> Iterator[str]:
    """Every entry of ``folder``: for a local folder also sub-folders, broken links and link loops (each
    still becomes an input with a row), which Beam's match drops silently. Lazy on a local disk."""
    path = local_path(folder)
    if path is None:
        yield from match(folder.rstrip("/") + "/*")
        return
    with os.scandir(path) as entries:
        for entry in entries:
            yield os.path.join(path, entry.name)


def open_binary(uri: str) -> IO[bytes]:
    return FileSystems.open(beam_path(uri), compression_type="uncompressed")


def read_parquet(uri: str, columns: Sequence[str] | None = None) -> pa.Table:
    """One Parquet file at ``uri`` (any FileSystems scheme), decoded on the calling thread.

    ``pq.read_table`` over a Python file object with its thread pool leaves I/O clean-up running after
    it returns; if the interpreter exits then, that clean-up takes the GIL of a finalised interpreter and
    the process aborts ("terminate called without an active exception", exit 134) after everything was
    written: 6 of 12 fresh interpreters that printed a run's summary here, 8 of 10 for a bare read
    (apache/arrow#33975, #34314); none with ``use_threads=False``. What we read this way is small (videos
    rows, one run's files), so one thread costs nothing that matters.
    """
    with open_binary(uri) as f:
        return pq.read_table(f, columns=None if columns is None else list(columns), use_threads=False)


INPUTS = InputSource(match=glob_inputs, list_folder=list_folder, open=open_binary)


def exists(uri: str) -> bool:
    return FileSystems.exists(beam_path(uri))


def read_json(uri: str) -> Any:
    with open_binary(uri) as f:
        return json.loads(f.read().decode("utf-8"))


def write_json(uri: str, payload: Any) -> None:
    """Write ``payload`` as JSON so that a reader sees the old object or the new one, never half: a
    hidden temporary object renamed into place (an object store's write is atomic anyway)."""
    folder, name = os.path.split(beam_path(uri))
    tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
    with FileSystems.create(tmp) as f:
        f.write(json.dumps(payload, indent=1, sort_keys=True).encode("utf-8"))
    rename(tmp, uri)


def rename(src: str, dst: str) -> None:
    """Move one file; the destination's folder is made first where folders exist (local disks)."""
    local = local_path(dst)
    if local is not None:
        os.makedirs(os.path.dirname(local), exist_ok=True)
    FileSystems.rename([beam_path(src)], [beam_path(dst)])


def delete(uris: list[str]) -> None:
    if uris:
        FileSystems.delete([beam_path(u) for u in uris])


def remove_tree(root: str) -> None:
    """Delete ``root`` and everything below it (nothing there is fine)."""
    local = local_path(root)
    if local is not None:
        shutil.rmtree(local, ignore_errors=True)
        return
    delete(match(root.rstrip("/") + "/**"))


def remove_if_empty(folder: str) -> None:
    """Remove a local folder left empty (object stores have no empty folders)."""
    local = local_path(folder)
    if local is not None:
        with contextlib.suppress(OSError):
            os.rmdir(local)


def check_writable(folder: str) -> str | None:
    """Why nothing can be written under ``folder``, or None: it is made if missing, then a small probe
    object is written and deleted (the same operations a run's publication needs)."""
    problem = filesystem_problem(folder)
    if problem:
        return problem
    local = local_path(folder)
    if local is not None:
        if os.path.exists(local) and not os.path.isdir(local):
            return "exists and is not a folder"
        try:
            os.makedirs(local, exist_ok=True)
        except OSError as err:
            return f"cannot be created: {err.strerror or err}"
    probe = folder.rstrip("/") + f"/_runs/.write-probe-{uuid.uuid4().hex}"
    try:
        with FileSystems.create(beam_path(probe)) as f:
            f.write(b"")
        delete([probe])
    except Exception as err:  # any filesystem's refusal (permissions, a missing bucket, no network)
        return f"is not writable: {type(err).__name__}: {str(err)[:300]}"
    return None


# -- one video's bytes, for the decoders -------------------------------------------------------------------


@contextlib.contextmanager
def localized(uri: str, timeout_s: float) -> Iterator[str]:
    """A local path holding the video: the path itself when local (nothing touches it here: the probe
    reads it under its own deadline), else a temp copy made within ``timeout_s``.

    ffmpeg reads only local files (its protocol whitelist allows file and pipe), so remote objects are
    copied in bounded blocks first and removed afterwards. A copy that stalls past the deadline fails
    the video with INPUT_TIMEOUT; its thread is left to end when the filesystem returns (a blocked read
    cannot be interrupted), writing into a file already deleted.
    """
    path = local_path(uri)
    if path is not None:
        yield path
        return
    problem = filesystem_problem(uri)
    if problem:
        raise EmotraceError(ErrorCode.FILESYSTEM_UNAVAILABLE, f"{uri}: {problem}")
    suffix = os.path.splitext(uri)[1][:16]
    with tempfile.NamedTemporaryFile(suffix=suffix, prefix="emotrace-") as tmp:
        _copy_within(uri, tmp, timeout_s)
        yield tmp.name


def _copy_within(uri: str, tmp: IO[bytes], timeout_s: float) -> None:
    errors: list[BaseException] = []

    def copy() -> None:
        try:
            with FileSystems.open(uri, compression_type="uncompressed") as src:
                shutil.copyfileobj(src, tmp, _COPY_BLOCK)
            tmp.flush()
        except BaseException as err:  # handed to the caller below
            errors.append(err)

    t0 = time.monotonic()
    worker = threading.Thread(target=copy, name="emotrace-copy", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise EmotraceError(
            ErrorCode.INPUT_TIMEOUT,
            f"copying {uri} took longer than the {timeout_s:g} s timeout "
            f"({time.monotonic() - t0:.0f} s; a stalled store or network?)",
        )
    if errors:
        err = errors[0]
        if isinstance(err, FileNotFoundError):
            raise EmotraceError(ErrorCode.INPUT_NOT_FOUND, f"{uri}: {err}") from err
        if isinstance(err, OSError):
            raise EmotraceError(ErrorCode.INPUT_UNREADABLE, f"{uri}: {err}") from err
        raise err
