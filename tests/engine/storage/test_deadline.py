"""User-driven reads run under a time limit: a statement past it is stopped with QueryTimeout."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.errors import QueryTimeout
from engine.storage.deadline import statement_deadline

# Counts to a trillion: minutes of work on either database, unless something stops it.
ENDLESS = sa.text(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000000) "
    "SELECT count(*) FROM n"
)


def test_statement_past_the_deadline_raises_query_timeout(runtime):
    with runtime.engine.connect() as conn:
        with pytest.raises(QueryTimeout) as raised, statement_deadline(conn, 0.2):
            conn.execute(ENDLESS)
    assert raised.value.seconds == 0.2
    assert "longer than 0.2 seconds" in str(raised.value)


def test_pooled_connection_keeps_no_limit_after_a_timeout(runtime):
    with runtime.engine.connect() as conn:
        with pytest.raises(QueryTimeout), statement_deadline(conn, 0.05):
            conn.execute(ENDLESS)
    with runtime.engine.connect() as conn:   # the same pooled connection, its deadline long past
        total = conn.execute(sa.text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
            "SELECT count(*) FROM n"
        )).scalar()
    assert total == 300000


def test_query_service_reads_under_the_configured_limit(runtime):
    service = runtime.query()
    service.timeout_seconds = 0.2
    with pytest.raises(QueryTimeout):
        service._scalar(ENDLESS)
