"""docs/schema.md documents exactly the columns of schemas/tables.py, with their types and null policy."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from emotrace.schemas.tables import PARTITIONING, TABLES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "schema.md").read_text(encoding="utf-8")
ROW = re.compile(r"^\| `(\w+)` \| (\w+) \| (.+?) \| (.+?) \|$", re.M)


def documented(table: str) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Column -> (type, null policy) from the section headed ``## <table>`` (or ``## a and b``), and the
    tables that section covers."""
    for section in re.split(r"^## ", DOC, flags=re.M)[1:]:
        covers = section.splitlines()[0].strip().split(" and ")
        if table in covers:
            return {name: (typ, null) for name, typ, _, null in ROW.findall(section)}, covers
    return {}, []


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_column_is_documented_with_its_type_and_null_policy(table: str):
    (docs, covers), schema = documented(table), TABLES[table]
    assert docs, f"docs/schema.md has no '## {table}' section"
    for field in schema:
        assert field.name in docs, f"{table}.{field.name} is not in docs/schema.md"
        typ, null = docs[field.name]
        assert typ == str(field.type), f"{table}.{field.name}: docs say {typ}, schema says {field.type}"
        if not field.nullable:
            assert null == "never", f"{table}.{field.name} is never null; docs say {null!r}"
        else:  # a nullable column says when it is null (or that the writer never leaves it null)
            assert null != "never", f"{table}.{field.name} is nullable; docs/schema.md says 'never'"
    known = {name for t in covers for name in TABLES[t].names}
    stale = sorted(set(docs) - known)
    assert not stale, f"docs/schema.md documents columns no table has: {stale}"


def test_partition_column_is_a_folder_of_dates_never_a_data_column():
    assert all(schema.get_field_index("posted_date") == -1 for schema in TABLES.values())
    assert PARTITIONING.field("posted_date").type == pa.date32()
