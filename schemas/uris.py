"""The canonical identity of an input URI (pure).

An input is identified by its canonical URI and its post id: ``--skip-existing``, the de-duplication of
identical inputs and the join of everything known about a video all use that key, and ``video_uri`` in
the ``videos`` table is the canonical form. Canonical means:

- local paths, and ``file://`` URIs in any letter case, become an absolute, normalised path without a
  scheme (``FILE:///d/x.mp4``, ``file:///d/x.mp4``, ``/d/./x.mp4`` and ``x.mp4`` run from ``/d`` are one
  input). ``.`` and ``..`` segments and repeated slashes are folded; symbolic links are not resolved
  (that would touch the file system, and a link's name is what the user gave);
- any other scheme (``gs://``, ``s3://``, ...) is lower-cased and the rest kept as written: object names
  are case-sensitive, and ``..`` is an ordinary character sequence in an object store.
"""

from __future__ import annotations

import os
import posixpath
import re

_SCHEME = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
LOCAL = "file"


def split_scheme(uri: str) -> tuple[str, str]:
    """(scheme lower-cased, the rest): ``("gs", "b/x.mp4")``; a local path gives ``("file", path)``."""
    m = _SCHEME.match(uri)
    if m is None:
        return LOCAL, uri
    return m["scheme"].lower(), uri[m.end() :]


def uri_scheme(uri: str) -> str:
    """``gs`` for ``gs://b/x.mp4`` (any case); ``file`` for local paths and ``file://`` URIs."""
    return split_scheme(uri)[0]


def is_local(uri: str) -> bool:
    return uri_scheme(uri) == LOCAL


def canonical_uri(uri: str, base: str | None = None) -> str:
    """The canonical form of ``uri`` (see the module docstring). A relative ``uri`` is relative to
    ``base``, a folder (local or remote; itself made canonical), or to the working directory."""
    scheme, rest = split_scheme(uri)
    if scheme != LOCAL:
        return f"{scheme}://{rest}"
    if posixpath.isabs(rest):
        return "/" + posixpath.normpath(rest).lstrip("/")  # normpath keeps a leading "//" (POSIX)
    root = canonical_uri(base) if base is not None else os.getcwd()
    if not is_local(root):
        return root.rstrip("/") + "/" + _strip_dot_segments(rest)
    return "/" + posixpath.normpath(posixpath.join(root, rest)).lstrip("/")


def _strip_dot_segments(rel: str) -> str:
    """``./a/./b`` -> ``a/b``: only the segments that mean nothing in any store."""
    return "/".join(p for p in rel.split("/") if p not in ("", "."))


def local_path(uri: str) -> str | None:
    """The local path a canonical (or ``file://``) URI names; None for other schemes."""
    scheme, rest = split_scheme(uri)
    return rest if scheme == LOCAL else None
