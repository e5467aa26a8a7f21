"""Windows are batched where they are cut (transforms/extract.batched): at most ``size`` held, in order,
and the windows cut before a failure still go out ahead of the error (their rows are written, the
videos row says partial)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emotrace.schemas.records import WindowBatch
from emotrace.transforms.extract import batched


def _cut(n: int, fail: bool = False) -> Iterator[int]:
    yield from range(n)
    if fail:
        raise ValueError("decoding stopped")


def test_batches_of_size_in_order_the_last_shorter():
    got = list(batched(_cut(19), 8))  # type: ignore[arg-type]
    assert [len(b) for b in got] == [8, 8, 3] and all(isinstance(b, WindowBatch) for b in got)
    assert [w for b in got for w in b] == list(range(19))
    assert list(batched(_cut(0), 8)) == []  # type: ignore[arg-type]


def test_windows_cut_before_a_failure_go_out_before_the_error():
    out = []
    with pytest.raises(ValueError, match="decoding stopped"):
        for batch in batched(_cut(11, fail=True), 4):  # type: ignore[arg-type]
            out.append(batch)
    assert [list(b) for b in out] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
