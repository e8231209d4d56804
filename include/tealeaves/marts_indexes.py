"""The marts' indexes: as the dbt project declares them, and as a schema in the warehouse has them.

dbt builds each index under a name of its own making (an md5 with a timestamp), so an index is known here by
what it does, not by its name: its table, its columns in order, whether it is unique and its access method.
The declared ones are the models' `indexes` config (dbt-postgres) and the primary keys and unique constraints
of their enforced contracts, read from dbt's manifest; what BI relies on is that the published schema has
exactly those (tests/integration/test_marts_indexes.py), and bench/bi_queries.py builds the same ones on its
scaled copies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from tealeaves.publish import BUILD


@dataclass(frozen=True, order=True)
class Index:
    table: str
    columns: tuple[str, ...]
    unique: bool = False
    method: str = "btree"
    origin: str = "indexes"  # 'indexes' (the model's config) or the contract constraint: 'primary_key', 'unique'

    @property
    def shape(self) -> tuple[str, tuple[str, ...], bool, str]:
        """What the index does, for comparing with the catalog (which does not know where it came from)."""
        return (self.table, self.columns, self.unique, self.method)

    def create(self, schema: str, name: str) -> sql.Composed:
        """The DDL to build this index on `schema`.`table`, as dbt-postgres's create index does."""
        if self.origin == "primary_key":
            return sql.SQL("alter table {} add constraint {} primary key ({})").format(
                sql.Identifier(schema, self.table),
                sql.Identifier(name),
                sql.SQL(", ").join(map(sql.Identifier, self.columns)),
            )
        return sql.SQL("create {unique}index {name} on {table} using {method} ({columns})").format(
            unique=sql.SQL("unique " if self.unique else ""),
            name=sql.Identifier(name),
            table=sql.Identifier(schema, self.table),
            method=sql.SQL(self.method),
            columns=sql.SQL(", ").join(map(sql.Identifier, self.columns)),
        )


def declared_indexes(manifest: Path) -> list[Index]:
    """Every index the dbt project declares on its marts (the tables built into `marts_build`), sorted."""
    nodes = json.loads(manifest.read_text())["nodes"].values()
    found: list[Index] = []
    for node in nodes:
        materialized = node["config"]["materialized"]
        if node["resource_type"] != "model" or node["schema"] != BUILD or materialized not in ("table", "incremental"):
            continue
        table = node["alias"] or node["name"]
        for raw in node["config"].get("indexes") or []:
            found.append(
                Index(table, tuple(raw["columns"]), bool(raw.get("unique")), (raw.get("type") or "btree").lower())
            )
        if not (node["config"].get("contract") or {}).get("enforced"):
            continue  # dbt creates constraints only under an enforced contract
        constraints = [(c, (name,)) for name, column in node["columns"].items() for c in column["constraints"]]
        constraints += [(c, tuple(c["columns"])) for c in node["constraints"]]
        for constraint, columns in constraints:
            if constraint["type"] in ("primary_key", "unique"):
                found.append(Index(table, columns, True, "btree", constraint["type"]))
    return sorted(found)


def catalog_indexes(conn: psycopg.Connection, schema: str) -> dict[str, Index]:
    """Every index on a table of `schema` in the warehouse's catalog, by its name (origin unknown: 'indexes')."""
    rows = conn.execute(
        """
        select c.relname, t.relname, array_agg(a.attname order by k.ord), i.indisunique, am.amname
        from pg_index as i
        join pg_class as t on t.oid = i.indrelid
        join pg_namespace as n on n.oid = t.relnamespace
        join pg_class as c on c.oid = i.indexrelid
        join pg_am as am on am.oid = c.relam
        cross join lateral unnest(i.indkey) with ordinality as k (attnum, ord)
        join pg_attribute as a on a.attrelid = t.oid and a.attnum = k.attnum
        where n.nspname = %s
        group by i.indexrelid, c.relname, t.relname, i.indisunique, am.amname
        """,
        [schema],
    ).fetchall()
    return {name: Index(table, tuple(columns), unique, method) for name, table, columns, unique, method in rows}


def schema_indexes(conn: psycopg.Connection, schema: str) -> list[Index]:
    """Every index on a table of `schema` in the warehouse's catalog, sorted."""
    return sorted(catalog_indexes(conn, schema).values())
