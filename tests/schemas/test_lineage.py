"""Lineage values and partition names (pure tier)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emotrace.schemas.config import AnalyzeConfig, GridConfig, SegmentConfig
from emotrace.schemas.lineage import DEFAULT_PARTITION, config_hash, hash_user_id, posted_date


@pytest.mark.parametrize(
    ("posted_at", "expected"),
    [
        ("2024-05-01T12:00:00Z", "2024-05-01"),
        ("2024-05-01T23:30:00-02:00", "2024-05-02"),  # partitions are UTC days
        ("2024-05-01T00:30:00+02:00", "2024-04-30"),
        ("2024-05-01", "2024-05-01"),
        ("2024-05-01 08:00:00", "2024-05-01"),  # no offset: taken as UTC
        (None, DEFAULT_PARTITION),
        ("  ", DEFAULT_PARTITION),
        ("last tuesday", DEFAULT_PARTITION),
        # Issue 15, class 1: the UTC day of these is outside years 1-9999 (the conversion overflowed and
        # one row ended the whole job); the local day is not the post's UTC day either.
        ("0001-01-01T00:00:00+01:00", DEFAULT_PARTITION),
        ("9999-12-31T23:30:00-01:00", DEFAULT_PARTITION),
        ("0001-01-01T00:00:00", "0001-01-01"),
        ("9999-12-31T22:00:00-01:00", "9999-12-31"),
    ],
)
def test_posted_date(posted_at, expected):
    assert posted_date(posted_at) == expected


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())))
def test_posted_date_is_total(posted_at):
    """Any text gives a partition value: the default one, or a real date."""
    value = posted_date(posted_at)
    assert value == DEFAULT_PARTITION or date.fromisoformat(value).isoformat() == value


def test_config_hash_is_stable_and_sees_config_and_model():
    base = config_hash(AnalyzeConfig().to_dict(), "m1")
    assert len(base) == 12 and int(base, 16) >= 0
    assert config_hash(AnalyzeConfig().to_dict(), "m1") == base
    assert config_hash(dict(reversed(list(AnalyzeConfig().to_dict().items()))), "m1") == base
    assert config_hash(AnalyzeConfig().to_dict(), "m2") != base
    assert config_hash(AnalyzeConfig(grid=GridConfig(step_s=0.4)).to_dict(), "m1") != base


def test_config_hash_ignores_how_videos_are_cut_into_segments():
    base = config_hash(AnalyzeConfig().output_dict(), "m1")
    cut = AnalyzeConfig(segments=SegmentConfig(300.0, workers=4))
    assert config_hash(cut.output_dict(), "m1") == base
    assert config_hash(AnalyzeConfig(grid=GridConfig(step_s=0.4)).output_dict(), "m1") != base


def test_hash_user_id_is_salted_and_deterministic():
    a = hash_user_id("user_a", "s1")
    assert a == hash_user_id("user_a", "s1") and len(a) == 64 and "user_a" not in a
    assert a != hash_user_id("user_a", "s2") and a != hash_user_id("user_b", "s1")
    assert hash_user_id(None, "s1") is None
    with pytest.raises(ValueError, match="EMOTRACE_USER_ID_SALT"):
        hash_user_id("user_a", "")
