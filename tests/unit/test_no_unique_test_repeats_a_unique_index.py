"""A model whose unique index holds its grain (macros/unique_indexes.sql) has no unique data test on the same
columns: PostgreSQL refuses the duplicate as the build writes it, so the test cannot fail, and it reads the whole
table in every daily build (a check that cannot fail is a defect; issue 15's daily run pays for it)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

MODELS = Path(__file__).resolve().parents[2] / "dbt_project" / "models"
INDEXES = re.compile(r"\bindexes\s*=\s*(\[.*?\])\s*,?\s*\n", re.DOTALL)


def unique_indexes(sql: str) -> list[set[str]]:
    """The column sets of the unique indexes in a model's config block."""
    found = INDEXES.search(sql)
    if found is None:
        return []
    return [set(index["columns"]) for index in ast.literal_eval(found.group(1)) if index.get("unique")]


def declared_in_yaml(model: dict) -> list[set[str]]:
    """The column sets a model's YAML makes unique: `config: indexes` marked unique, and primary key or unique
    constraints of its contract, on a column or on the model."""
    found = [set(i["columns"]) for i in (model.get("config") or {}).get("indexes", []) if i.get("unique")]
    for column in model.get("columns", []):
        found += [{column["name"]} for c in column.get("constraints", []) if c["type"] in ("primary_key", "unique")]
    found += [set(c["columns"]) for c in model.get("constraints", []) if c["type"] in ("primary_key", "unique")]
    return found


def unique_tests(model: dict) -> list[tuple[str, set[str]]]:
    """(test, columns) for the model's `unique` column tests and `unique_combination` model tests."""
    tests = []
    for column in model.get("columns", []):
        for test in column.get("data_tests", []):
            if test == "unique" or (isinstance(test, dict) and "unique" in test):
                tests.append((f"unique({column['name']})", {column["name"]}))
    for test in model.get("data_tests", []):
        if isinstance(test, dict) and "unique_combination" in test:
            columns = test["unique_combination"]["arguments"]["columns"]
            tests.append((f"unique_combination({', '.join(columns)})", set(columns)))
    return tests


def test_no_model_has_a_unique_test_its_unique_index_already_enforces():
    sql_of = {path.stem: path.read_text() for path in MODELS.rglob("*.sql")}
    repeated = []
    for path in sorted(MODELS.rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            indexes = unique_indexes(sql_of.get(model["name"], "")) + declared_in_yaml(model)
            for test, columns in unique_tests(model):
                if any(index <= columns for index in indexes):
                    repeated.append(f"{model['name']}: {test}")
    assert repeated == []
