"""speech_prob in trace rows: the window's value where the soundtrack reaches the step, null elsewhere."""

import numpy as np
import pyarrow as pa

from emotrace.schemas.records import StepWindow, VideoRef, WindowPrediction
from emotrace.schemas.rows import trace_rows
from emotrace.schemas.tables import TRACES

REF = VideoRef("/v/a.mp4", "a", "u1", None)


def _prediction(audio_mask: list[bool], speech_prob: np.ndarray | None) -> WindowPrediction:
    w = len(audio_mask)
    window = StepWindow(
        REF, None, 0, 0.2, np.zeros((w, 4, 4, 3), np.uint8), np.zeros(w, bool), np.zeros((w, 3), np.float32),
        np.array(audio_mask), np.ones(w, bool), speech_prob,
    )  # fmt: skip
    zeros = np.zeros(w, np.float32)
    return WindowPrediction(window, zeros, zeros, np.zeros((w, 2, 2), np.float32), "m-1")


def test_speech_prob_is_written_where_audio_reaches_and_null_elsewhere() -> None:
    prob = np.array([0.25, 0.9, np.nan, np.nan], np.float32)
    rows = trace_rows(_prediction([True, True, False, False], prob), "run", "c0ffee123456")
    table = pa.Table.from_pylist(rows, schema=TRACES)
    assert table.column("speech_prob").to_pylist() == [0.25, np.float32(0.9).item(), None, None]
    assert table.column("audio_present").to_pylist() == [True, True, False, False]


def test_windows_without_speech_prob_write_null() -> None:
    rows = trace_rows(_prediction([True, True], None), "run", "c0ffee123456")
    assert [r["speech_prob"] for r in rows] == [None, None]
    assert pa.Table.from_pylist(rows, schema=TRACES).schema.field("speech_prob").type == pa.float32()


def test_gated_face_rows_keep_speech_prob_and_write_speaking() -> None:
    """A face row whose audio was gated off (not the speaker) still says how much speech the step had,
    and its ``speaking``; ``audio_present`` says the model got no audio."""
    prob = np.array([0.9, 0.9, np.nan], np.float32)
    pred = _prediction([True, False, False], prob)
    speaking = np.array([0.8, 0.1, np.nan], np.float32)
    pred = pred._replace(window=pred.window._replace(track_id=3, speaking=speaking))
    table = pa.Table.from_pylist(trace_rows(pred, "run", "c0ffee123456"), schema=TRACES)
    assert table.column("speech_prob").to_pylist() == [np.float32(0.9).item()] * 2 + [None]
    assert table.column("speaking").to_pylist() == [np.float32(0.8).item(), np.float32(0.1).item(), None]
    assert table.column("audio_present").to_pylist() == [True, False, False]
