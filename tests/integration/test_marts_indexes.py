"""BI's indexes on the marts: the published schema has exactly the indexes the dbt project declares (its models'
`indexes` config and the primary keys and unique constraints of their contracts), so dashboards keep them after
the schema swap that publishes a build, and a customer's history is read through its index once the mart is big.

Reads the shared `marts_world` (400 customers, 12 months) as published to `marts`, and dbt's manifest.
"""

from __future__ import annotations

import json

import psycopg
from psycopg import sql

from tealeaves.marts_indexes import declared_indexes, schema_indexes
from tealeaves.publish import PUBLISHED

COPIES = 50  # 400 customers x 50: the mart at 20,000 customers, about 125,000 customer-months


def test_published_marts_have_the_declared_indexes(marts_world, manifest):
    """Every declared index is on the published table, and no other: the rename from marts_build kept them."""
    url, _, _ = marts_world
    declared = declared_indexes(manifest)
    assert {index.table for index in declared if index.origin == "indexes"} >= {
        "fct_customer_health",
        "fct_mrr_movements",
        "fct_support_tickets",
        "fct_predicted_ltv",
    }
    with psycopg.connect(url) as conn:
        published = schema_indexes(conn, PUBLISHED)
    assert sorted(index.shape for index in published) == sorted(index.shape for index in declared)


def test_customer_history_reads_its_index_at_scale(marts_world, manifest):
    """On fct_customer_health replicated to 20,000 customers (keys shifted, a copy of the real rows), one
    customer's history is planned through the declared (customer_key, month) index.

    Robust to the planner's choices: the query wants about 12 rows of 125,000 with fresh statistics, where a
    scan costs some hundred times the index; this is not a choice a cost estimate could tip either way.
    """
    url, _, _ = marts_world
    index = next(
        i
        for i in declared_indexes(manifest)
        if i.table == "fct_customer_health" and i.columns == ("customer_key", "month")
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists scaled cascade")
        conn.execute("create schema scaled")
        columns = [
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = %s and table_name = 'fct_customer_health' order by ordinal_position",
                [PUBLISHED],
            )
        ]
        conn.execute(
            sql.SQL(
                "create table scaled.fct_customer_health as select {} from {} as t"
                " cross join generate_series(0, {}) as copy order by t.ctid, copy"
            ).format(
                sql.SQL(", ").join(
                    sql.SQL("t.customer_key || '#' || copy as customer_key")
                    if column == "customer_key"
                    else sql.Identifier("t", column)
                    for column in columns
                ),
                sql.Identifier(PUBLISHED, "fct_customer_health"),
                sql.Literal(COPIES - 1),
            )
        )
        conn.execute(index.create("scaled", "customer_month"))
        conn.execute("analyze scaled.fct_customer_health")
        rows, customer = conn.execute("select count(*), max(customer_key) from scaled.fct_customer_health").fetchone()
        assert rows >= 50_000  # big enough that a scan costs far more than the index
        plan = conn.execute(
            "explain (format json) select month, health_score, health_band from scaled.fct_customer_health"
            " where customer_key = %s order by month",
            [customer],
        ).fetchone()[0]
        conn.execute("drop schema scaled cascade")
    assert "customer_month" in indexes_read(plan[0]["Plan"]), json.dumps(plan, indent=1)


def indexes_read(plan: dict) -> list[str]:
    """Names of the indexes any node of an EXPLAIN (FORMAT JSON) plan reads."""
    return [plan["Index Name"]] * ("Index Name" in plan) + [
        name for child in plan.get("Plans", []) for name in indexes_read(child)
    ]
