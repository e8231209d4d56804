"""BI's indexes on the marts: the published schema has exactly the indexes the dbt project declares (its models'
`indexes` config and the primary keys and unique constraints of their contracts), so dashboards keep them after
the schema swap that publishes a build.

Reads the shared `marts_world` (400 customers, 12 months) as published to `marts`, and dbt's manifest. Whether
queries use the indexes is the planner's choice, so it is measured in bench/bi_queries.py, not asserted here.
"""

from __future__ import annotations

import psycopg

from tealeaves.marts_indexes import declared_indexes, schema_indexes
from tealeaves.publish import PUBLISHED


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
