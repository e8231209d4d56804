"""The semantic layer reads the published marts: dbt's relations (the build schema, the parser's database) are
re-pointed to `marts` in whatever database the client connects to, and nothing outside the marts is read."""

from __future__ import annotations

import copy

import pytest

from tealeaves.publish import BUILD, PUBLISHED
from tealeaves.semantic import SemanticLayerError, UnknownMetric, published_relations


def relation(schema: str, alias: str, database: str = "tealeaves") -> dict:
    """A node_relation as dbt 1.11 writes it into target/semantic_manifest.json."""
    return {
        "alias": alias,
        "schema_name": schema,
        "database": database,
        "relation_name": f'"{database}"."{schema}"."{alias}"',
    }


def manifest(*models: tuple[str, dict]) -> dict:
    return {
        "semantic_models": [{"name": name, "node_relation": rel} for name, rel in models],
        "metrics": [],
        "project_configuration": {"time_spines": [{"node_relation": relation(BUILD, "dim_dates")}]},
    }


def test_build_schema_relations_are_read_from_the_published_schema_in_any_database():
    raw = manifest(("acquisition_cost", relation(BUILD, "fct_acquisition_cost", database="t_marts")))
    before = copy.deepcopy(raw)
    out = published_relations(raw)
    model = out["semantic_models"][0]["node_relation"]
    spine = out["project_configuration"]["time_spines"][0]["node_relation"]
    assert model == {
        "alias": "fct_acquisition_cost",
        "schema_name": PUBLISHED,
        "database": None,
        "relation_name": f'"{PUBLISHED}"."fct_acquisition_cost"',
    }
    assert spine["relation_name"] == f'"{PUBLISHED}"."dim_dates"'
    assert raw == before  # dbt's own dict is left as dbt wrote it


def test_a_semantic_model_outside_the_marts_is_refused():
    raw = manifest(("ok", relation(BUILD, "fct_support_tickets")), ("leaky", relation("intermediate", "int_x")))
    with pytest.raises(SemanticLayerError, match="leaky"):
        published_relations(raw)


def test_an_unknown_metric_names_the_close_ones():
    known = ["blended_cac", "paid_cac", "net_revenue_retention", "nps"]
    assert "blended_cac" in str(UnknownMetric(["blended_cak"], known))
    words = str(UnknownMetric(["cac"], known))
    assert "paid_cac" in words and "blended_cac" in words and "nps" not in words.split("(")[1]
