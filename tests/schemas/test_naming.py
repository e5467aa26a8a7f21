"""Output naming (pure): exact file-name parsing, run ids, continuations, staging and marker paths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emotrace.schemas import naming

CHOSEN = st.from_regex(naming.RUN_ID_CHARS, fullmatch=True).filter(lambda r: ".." not in r)


def test_a_part_name_is_parsed_exactly():
    assert naming.parse_part_name("part-day-00000.parquet") == ("day", 0)
    assert naming.parse_part_name("part-day-2-00003.parquet") == ("day-2", 3)  # not run "day"
    assert naming.parse_part_name("part-day~002-00001.parquet") == ("day~002", 1)
    for other in [
        ".part-day-00000.parquet.1a2b.inprogress", "part-day-0000.parquet", "part-day-00000.parquet.bak",
        "part-..-00000.parquet", "part-a..b-00000.parquet", "part-day~2-00000.parquet", "x-day-00000.parquet",
    ]:  # fmt: skip
        assert naming.parse_part_name(other) is None, other


@given(run_id=CHOSEN, shard=st.integers(0, 99_999), attempt=st.integers(1, 999))
def test_names_round_trip(run_id, shard, attempt):
    run = run_id if attempt == 1 else naming.continuation(run_id, attempt)
    assert naming.parse_part_name(naming.part_name(run, shard)) == (run, shard)
    assert naming.base_run(run) == run_id and naming.attempt_of(run) == attempt
    assert naming.run_of_marker(naming.marker_path("gs://b/out", run)) == run
    assert naming.is_valid_run_id(run) and naming.is_valid_run_id(run, chosen=True) == (attempt == 1)


@pytest.mark.parametrize("bad", ["", "..", "a..b", "z/../x", "-x", ".x", "a b", "é", "x" * 129, "a~002"])
def test_chosen_run_ids_outside_the_character_set_are_refused(bad):
    assert not naming.is_valid_run_id(bad, chosen=True)
    if "~" not in bad:
        with pytest.raises(ValueError, match="not allowed"):
            naming.staging_dir("/out", bad)


def test_every_path_stays_below_the_output_folder():
    assert naming.part_path("/o/_staging/r", "traces", "2024-05-01", "r", 0) == (
        "/o/_staging/r/traces/posted_date=2024-05-01/part-r-00000.parquet"
    )
    assert naming.staging_dir("gs://b/o/", "r~002") == "gs://b/o/_staging/r~002"
    assert naming.marker_path("/o", "r") == "/o/_runs/r.json"
    assert naming.intent_path("/o", "r") == "/o/_staging/r/_publish.json"
    assert naming.relative_to("/o/_staging/r", "/o/_staging/r/videos/x.parquet") == "videos/x.parquet"
    with pytest.raises(ValueError):
        naming.relative_to("/o/_staging/r", "/o/_staging/r2/videos/x.parquet")  # a prefix is not a folder
