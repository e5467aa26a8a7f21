"""``--hash-user-ids``: pseudonyms in the job's first stage, and no run without a salt (no media needed)."""

from __future__ import annotations

import pytest

from emotrace.pipelines.analyze import user_id_salt
from emotrace.schemas.lineage import USER_ID_SALT_ENV, hash_user_id
from emotrace.schemas.records import VideoRef
from emotrace.transforms.inputs import pseudonymized

REFS = [VideoRef("a.mp4", "a", "user_a", "2024-05-01"), VideoRef("b.mp4", "b", None)]


def test_user_ids_are_replaced_by_salted_hashes(monkeypatch):
    monkeypatch.setenv(USER_ID_SALT_ENV, "pepper")
    salt = user_id_salt(enabled=True)
    got = [pseudonymized(r, salt) for r in REFS]
    assert got[0].user_id == hash_user_id("user_a", "pepper") != "user_a"
    assert got[0]._replace(user_id="user_a") == REFS[0]  # nothing else changes
    assert got[1].user_id is None
    assert user_id_salt(enabled=False) is None


def test_refuses_to_run_without_a_salt(monkeypatch):
    monkeypatch.delenv(USER_ID_SALT_ENV, raising=False)
    with pytest.raises(SystemExit, match=USER_ID_SALT_ENV):
        user_id_salt(enabled=True)
