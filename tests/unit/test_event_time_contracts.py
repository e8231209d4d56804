"""A contract's `event_time` columns: instants only, each with an index name PostgreSQL keeps whole and no other
column shares (tealeaves.sources, tealeaves.load.ddl.block_range_indexes)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tealeaves.load.ddl import block_range_indexes
from tealeaves.sources import Contract

COMMENTS = {
    "source": "support",
    "entity": "ticket_comments",
    "description": "comments",
    "file": "ticket_comments*.jsonl",
    "format": "jsonl",
    "key": ["id"],
}


def contract(*columns: dict[str, object], entity: str = "ticket_comments") -> Contract:
    return Contract.model_validate(
        {**COMMENTS, "entity": entity, "columns": [{"name": "id", "type": "bigint"}, *columns]}
    )


def test_an_event_time_column_indexes_its_instant_beside_the_batch():
    made = contract({"name": "created_at", "type": "timestamptz", "event_time": True})
    assert block_range_indexes(made) == {
        "support_ticket_comments__by_batch": "_batch_id",
        "support_ticket_comments__by_created_at": "created_at",
    }


def test_only_an_instant_can_be_an_event_time():
    with pytest.raises(
        ValidationError, match="created_on: event_time marks an instant, a timestamptz column, not date"
    ):
        contract({"name": "created_on", "type": "date", "event_time": True})


def test_an_index_name_postgresql_would_cut_or_another_column_takes_is_refused():
    long_entity = "e" * 40
    long_column = {"name": "c" * 20, "type": "timestamptz", "event_time": True}
    with pytest.raises(ValueError, match=f"no index name for event_time column {'c' * 20}"):
        block_range_indexes(contract(long_column, entity=long_entity))
    with pytest.raises(ValueError, match="no index name for event_time column batch"):
        block_range_indexes(contract({"name": "batch", "type": "timestamptz", "event_time": True}))
