"""After a publish, `marts_previous` holds exactly the set that was published before it, until the next build.

include/tealeaves/publish.py keeps the previous published marts "until the next build starts, to compare or roll
back": that is only true if every table comes through whole (columns, types, constraints, indexes, every row) and
nothing of the new build leaks in. The first published set here is the real one the daily DAG's steps built and
published in the shared `marts_world`, on a copy of its database (no second world is built); the next runs' builds
are made from it by SQL, each differing from the last by a changed table, a new one and a dropped one. The last
test builds with dbt: the next build takes the retired incremental marts on.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from tealeaves.publish import PublishError, publish_marts
from tests.conftest import dbt_build, incremental_plans
from tests.warehouse import query


@dataclass(frozen=True)
class Relation:
    """All a reader can tell of a table apart from its schema's name."""

    columns: tuple[tuple[str, str, bool], ...]  # (name, type, not null), in order
    constraints: tuple[tuple[str, str], ...]  # (type, definition)
    indexes: tuple[str, ...]  # definitions, without the schema's name
    rows: tuple[str, ...]  # every row as text, sorted


def snapshot(url: str, schema: str) -> dict[str, Relation]:
    """Every table, view and index of `schema`, with all its rows."""
    with psycopg.connect(url) as conn:
        kinds = dict(
            conn.execute(
                "select relname, relkind from pg_class where relnamespace = %s::regnamespace and relkind <> 'i'",
                [schema],
            ).fetchall()
        )
        assert set(kinds.values()) <= {"r"}, f"only tables are expected in {schema}: {kinds}"
        relations = {}
        for name in sorted(kinds):
            table = sql.Identifier(schema, name)
            oid = conn.execute("select %s::regclass::oid", [f'"{schema}"."{name}"']).fetchone()[0]
            columns = conn.execute(
                "select attname, format_type(atttypid, atttypmod), attnotnull from pg_attribute"
                " where attrelid = %s and attnum > 0 and not attisdropped order by attnum",
                [oid],
            ).fetchall()
            constraints = conn.execute(
                "select contype::text, pg_get_constraintdef(oid) from pg_constraint where conrelid = %s order by 1, 2",
                [oid],
            ).fetchall()
            indexes = conn.execute(
                "select pg_get_indexdef(indexrelid) from pg_index where indrelid = %s order by 1", [oid]
            ).fetchall()
            rows = conn.execute(sql.SQL("select t::text from {} as t").format(table)).fetchall()
            relations[name] = Relation(
                tuple(columns),
                tuple(constraints),
                tuple(d.replace(f" ON {schema}.", " ON ") for (d,) in indexes),
                tuple(sorted(text for (text,) in rows)),
            )
    return relations


def schemas(url: str) -> set[str]:
    return {name for (name,) in query(url, "select nspname from pg_namespace where nspname like 'marts%%'")}


def next_build(url: str, changed: str, dropped: str, added: str) -> None:
    """A next run's `marts_build`: the published tables again, but `changed` without its latest month (a rebuild
    as of an earlier reporting date), `dropped` gone and a new table `added`."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema marts_build")
        for (name,) in conn.execute(
            "select relname from pg_class where relnamespace = 'marts'::regnamespace and relkind = 'r'"
        ).fetchall():
            if name == dropped:
                continue
            target, source = sql.Identifier("marts_build", name), sql.Identifier("marts", name)
            conn.execute(sql.SQL("create table {} (like {} including all)").format(target, source))
            conn.execute(sql.SQL("insert into {} select * from {}").format(target, source))
        table = sql.Identifier("marts_build", changed)
        conn.execute(sql.SQL("delete from {0} where month = (select max(month) from {0})").format(table))
        conn.execute(sql.SQL("create table {} as select 1 as added").format(sql.Identifier("marts_build", added)))


def test_marts_previous_holds_exactly_the_set_published_before(published_world):
    """Publish the next build: `marts_previous` is the first published set, table for table (columns, types,
    constraints, indexes) and row for row, with nothing of the new build in it (the dropped table is still
    there to roll back to, the new one is not); `marts` is the new build exactly; `marts_build` is gone."""
    url = published_world
    first = snapshot(url, "marts")
    assert "marts_previous" not in schemas(url), "one publish so far: nothing to keep yet"
    assert len(first) > 20 and sum(len(r.rows) for r in first.values()) > 10_000, "the real published set"
    assert any(r.constraints for r in first.values()) and any(r.indexes for r in first.values())

    next_build(url, changed="fct_revenue_retention_monthly", dropped="fct_churn_by_health_band", added="fct_new")
    second = snapshot(url, "marts_build")
    assert second["fct_revenue_retention_monthly"] != first["fct_revenue_retention_monthly"]
    published = publish_marts(url)

    assert schemas(url) == {"marts", "marts_previous"}
    assert snapshot(url, "marts_previous") == first
    assert snapshot(url, "marts") == second
    assert published.tables == {name: len(relation.rows) for name, relation in second.items()}


def test_marts_previous_is_kept_for_one_run_only(published_world):
    """A third publish keeps the second set as `marts_previous`: the first set is gone, as published.py says."""
    url = published_world
    next_build(url, changed="fct_revenue_retention_monthly", dropped="fct_churn_by_health_band", added="fct_new")
    publish_marts(url)
    second = snapshot(url, "marts")
    next_build(url, changed="fct_gross_margin", dropped="fct_new", added="fct_newer")
    third = snapshot(url, "marts_build")
    publish_marts(url)

    assert snapshot(url, "marts_previous") == second
    assert snapshot(url, "marts") == third
    assert "fct_churn_by_health_band" not in second, "the first set's dropped table went with it"


def test_a_publish_without_a_build_keeps_both_sets(published_world):
    """A publish with no audited build fails (PublishError) and changes nothing: the published set and the one
    kept to roll back to are both as they were, since the swap is one transaction."""
    url = published_world
    next_build(url, changed="fct_revenue_retention_monthly", dropped="fct_churn_by_health_band", added="fct_new")
    publish_marts(url)
    before = {schema: snapshot(url, schema) for schema in ("marts", "marts_previous")}

    with pytest.raises(PublishError):
        publish_marts(url)

    assert schemas(url) == {"marts", "marts_previous"}
    assert {schema: snapshot(url, schema) for schema in ("marts", "marts_previous")} == before


def _oid(url: str, schema: str, table: str) -> int | None:
    return query(url, "select to_regclass(%s)::oid", f"{schema}.{table}")[0][0]


def _relations(url: str, schema: str) -> set[str]:
    return {
        name
        for (name,) in query(
            url, "select relname from pg_class where relnamespace = %s::regnamespace and relkind <> 'i'", schema
        )
    }


def test_the_next_build_carries_the_retired_incremental_marts_on(published_world, tmp_path):
    """Once a publish has retired a set, the next build starts from its incremental marts (macros/
    reuse_retired_marts.sql): `marts_previous` becomes the build schema, the incremental mart is the same table (its
    OID) and goes on incrementally, to the rows a build from nothing gives, and every other relation is gone. A mart
    whose fingerprint changed is made again instead of carried on."""
    url = published_world
    mart = "fct_support_tickets"
    dbt_build(url, mart, tmp_path / "second", debug_log=True)  # nothing retired yet: a new table
    assert incremental_plans(tmp_path / "second", mart) == []  # built whole, no plan needed
    publish_marts(url)
    retired = _oid(url, "marts_previous", mart)
    published = Counter(query(url, f"select t::text from marts.{mart} as t"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table marts_previous.fct_removed as select 1 as kept")  # a mart the project dropped

    dbt_build(url, mart, tmp_path / "third", debug_log=True)

    assert "marts_previous" not in schemas(url)
    assert _oid(url, "marts_build", mart) == retired
    assert _relations(url, "marts_build") == {mart}
    assert set(incremental_plans(tmp_path / "third", mart)) == {"incremental"}
    assert Counter(query(url, f"select t::text from marts_build.{mart} as t")) == published

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update intermediate.incremental_state set fingerprint = 'older code' where model like %s", [f"{mart}@%"]
        )
    dbt_build(url, mart, tmp_path / "fourth", debug_log=True)

    assert _oid(url, "marts_build", mart) not in (None, retired)
    assert incremental_plans(tmp_path / "fourth", mart) == []
    assert Counter(query(url, f"select t::text from marts_build.{mart} as t")) == published


SIGNALS = "intermediate.int_customer_signals_monthly"
SIGNALS_MARTS = "fct_support_tickets fct_survey_responses fct_mrr_movements int_customer_signals_monthly"


def _signals_of(url: str, customers: list[str]) -> dict[tuple[str, object], tuple]:
    rows = query(
        url,
        f"select customer_key, month, tickets_opened, latest_nps_score, failed_charges from {SIGNALS}"
        " where customer_key = any(%s)",
        customers,
    )
    return {(key, month): tuple(rest) for key, month, *rest in rows}


def test_signals_compare_what_they_read_when_a_mart_was_rebuilt_whole(published_world, tmp_path):
    """The first build after a publish builds the marts whole (nothing retired yet: macros/reuse_retired_marts.sql),
    and a re-stage builds a staging table whole. int_customer_signals_monthly compares what it kept of the tickets,
    NPS answers and failed charges it counts with what those tables hold now, and recomputes the customers whose
    counted values changed (macros/customer_signals_incremental.sql), instead of every customer month: to the rows
    a rebuild from nothing gives. Changed here below the marts, in months no day's data recomputes: a ticket of
    customer a moves a month back, the latest NPS answer of c is rescored, a charge of e fails."""
    url = published_world
    [(last,)] = query(url, f"select max(month) from {SIGNALS}")
    [(ticket, a)] = query(
        url,
        "select tickets.ticket_id, tickets.customer_key from marts.fct_support_tickets as tickets"
        f" inner join {SIGNALS} as month_before on month_before.customer_key = tickets.customer_key"
        "     and month_before.month = (tickets.month - interval '1 month')::date"
        " where tickets.month < %s - interval '3 months' order by tickets.ticket_id limit 1",
        last,
    )
    [(response, c)] = query(
        url,
        "select response_id, customer_key from ("
        # the customer's latest answer of all (as signals orders them): its score counts in every month after it
        "  select response_id, customer_key, submitted_at, row_number() over ("
        "      partition by customer_key order by submitted_at desc, response_id desc) as latest"
        "  from marts.fct_survey_responses"
        "  where survey_type = 'nps' and is_nps_answered and customer_key is not null and customer_key <> %s"
        " ) as answers"
        " where latest = 1 and submitted_at < %s - interval '3 months'"
        f"  and exists (select from {SIGNALS} as s where s.customer_key = answers.customer_key"
        "      and s.month < answers.submitted_at - interval '1 month')"
        " order by response_id limit 1",
        a,
        last,
    )
    dbt_build(url, "stg_billing__charges", tmp_path / "restaged", full_refresh=True)
    [(charge, e)] = query(
        url,
        "select charges.charge_id, identities.customer_key from staging.stg_billing__charges as charges"
        " inner join intermediate.int_customer_identity as identities"
        "     on identities.source_system = 'billing_customer' and identities.source_id = charges.billing_customer_id"
        " where exists (select from "
        + SIGNALS
        + " as s where s.customer_key = identities.customer_key and s.month < charges.created_at - interval '1 month')"
        " and charges.charge_status = 'succeeded' and charges.created_at < %s - interval '3 months'"
        "     and identities.customer_key <> all(%s)"
        " order by charges.charge_id limit 1",
        last,
        [a, c],
    )
    before = _signals_of(url, [a, c, e])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update intermediate.int_tickets_measured set created_at = created_at - interval '1 month'"
            " where ticket_id = %s",
            [ticket],
        )
        conn.execute(
            "update staging.stg_survey__nps_responses set nps_score = case when nps_score = 0 then 10 else 0 end"
            " where response_id = %s",
            [response],
        )
        conn.execute("update staging.stg_billing__charges set charge_status = 'failed' where charge_id = %s", [charge])

    dbt_build(url, SIGNALS_MARTS, tmp_path / "next", debug_log=True)

    after = _signals_of(url, [a, c, e])
    assert {key for key, month in before if before[key, month] != after.get((key, month))} == {a, c, e}

    incremental = Counter(query(url, f"select t::text from {SIGNALS} as t"))
    dbt_build(url, "int_customer_signals_monthly", tmp_path / "rebuilt", full_refresh=True)
    assert Counter(query(url, f"select t::text from {SIGNALS} as t")) == incremental

    log = (tmp_path / "next" / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert set(incremental_plans(tmp_path / "next", "int_customer_signals_monthly")) == {"incremental"}
    compared = re.findall(r"int_customer_signals_monthly: (__\w+) compared whole", log)
    assert sorted(set(compared)) == ["__failed_charges", "__nps_answers", "__tickets"]
    # the customers of every month it recomputes (customer_signals_recomputed), after those MRR gives (none here)
    recomputed = int(re.findall(r"int_customer_signals_monthly: recomputing (\d+) keys", log)[-1])
    [(held,)] = query(url, f"select count(distinct customer_key) from {SIGNALS}")
    assert 3 <= recomputed < held / 10, (recomputed, held)
