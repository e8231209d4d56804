{#
    Incremental models keyed by an entity (a ticket): a run recomputes every row of each entity that anything
    new touched, from the entity's whole history, and keeps the other rows. The result equals a full rebuild's
    (tests/integration/test_incremental_daily_run.py proves it mart by mart). Write-audit-publish is untouched:
    these are intermediate tables, never read by BI; the marts built from them are audited and published whole.

    A model using it:
        config: materialized incremental, incremental_strategy delete+insert, unique_key the entity's key,
                pre_hook deleting the entities that no longer qualify, post_hook record_incremental_state()
        body:   {% set plan = incremental_plan(...) %}, and in incremental mode a filter on its key,
                `key = any(plan.keys)` on every staging read, so PostgreSQL reads only those entities' rows.

    What a run has to look at is decided by the batch ledger, never by clock time on rows:
    - Batches: every batch with an id above the one the model's last run went through, up to `through`, the
      highest id below any batch not finished when this dbt invocation started (a load still running is taken
      by the next run), and no higher than the nearest upstream model that records its state (an incremental
      model, a staging table) went through while a later batch is of a raw table it reads (a build that selects
      the model without them, after a load, reads them as they were before it: the next run, with the load
      staged, takes its batches). Also the batches the raw gate failed since the earlier of its last run's start
      and its upstream models' failures_seen_at: their rows just left staging.
    - A model's fingerprint: its SQL and every upstream model's and seed's (dbt checksums) and the vars that
      change what a row means. A different fingerprint (new code, another time zone, a pinned as-of date)
      recomputes every entity; so does a change in an input that every row reads (the model names them: SLA
      policies, who is an agent), and a model lists its upstream incremental models' such inputs too, so that
      it recomputes everything whenever they do.
    - A macro is not part of the fingerprint (dbt's graph has no macro checksums): after changing a macro these
      models use, rebuild them once in full, e.g. `dbt build --full-refresh --select config.materialized:incremental+`.
    State lives beside the models, in <schema>.incremental_state, one row per model (a mart's: see
    incremental_state_relation), written by the post-hook in the model's own transaction.
#}

{#
    A raw table by its source's name, looked up in dbt's graph: these macros run only at execution, in
    incremental runs, where source() would name a dependency dbt did not parse (and a unit test would ask for it
    as an input).
#}
{% macro raw_relation(source_name, table_name) -%}
    {%- if not execute -%}{{- return(source_name ~ '.' ~ table_name) -}}{%- endif -%}
    {%- set found = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
    {{- adapter.quote(found.schema) ~ '.' ~ adapter.quote(found.identifier) -}}
{%- endmacro %}

{#
    A model's relation by its name, looked up in dbt's graph, for the same reason; with `suffix`, the table of that
    name plus the suffix beside it (a model's bookkeeping, macros/row_changes.sql).
#}
{% macro graph_model_relation(name, suffix='') -%}
    {%- if not execute -%}{{- return(name ~ suffix) -}}{%- endif -%}
    {%- set found = graph.nodes['model.' ~ project_name ~ '.' ~ name] -%}
    {{- adapter.quote(found.schema) ~ '.' ~ adapter.quote(found.alias ~ suffix) -}}
{%- endmacro %}

{#
    Where a model's state row lives, and its key there. A mart's state is kept in the intermediate schema, keyed by
    the table's name and OID: the mart schemas are renamed by every publish and reused by the next build
    (macros/reuse_retired_marts.sql), a table keeps its OID through both, and BI never sees a bookkeeping table in
    `marts`. Any other model's is in its own schema, keyed by its name.
#}
{% macro incremental_state_schema(schema) -%}
    {{- 'intermediate' if schema == var('marts_build_schema', 'marts_build') else schema -}}
{%- endmacro %}

{% macro incremental_state_relation() -%}
    {{ incremental_state_schema(this.schema) }}.incremental_state
{%- endmacro %}

{# A mart's key from its table's name and OID (SQL expressions); reuse_retired_marts reads the same keys. #}
{% macro mart_state_key_sql(name_sql, oid_sql) -%}
    ({{ name_sql }} || '@' || {{ oid_sql }})
{%- endmacro %}

{% macro incremental_state_key_sql() -%}
    {%- if this.schema == var('marts_build_schema', 'marts_build') -%}
        {{ mart_state_key_sql("'" ~ this.identifier ~ "'", "coalesce(to_regclass('" ~ this ~ "')::oid::text, '')") }}
    {%- else -%}
        '{{ this.identifier }}'
    {%- endif -%}
{%- endmacro %}

{# The newest batch every earlier one of which had finished when this dbt invocation started. #}
{% macro incremental_through_sql() -%}
    coalesce(
        (
            select min(batch_id) - 1 from {{ raw_relation('ledger', 'load_batches') }}
            where not (status in ('loaded', 'failed') and finished_at < '{{ run_started_at }}'::timestamptz)
        ),
        (select max(batch_id) from {{ raw_relation('ledger', 'load_batches') }}),
        0
    )
{%- endmacro %}

{#
    A model whose state row says what its last run went through: an incremental model, and a staging table rebuilt
    whole (the lookup tables: FX rates, prices, SLA policies), whose post-hook records it too (dbt_project.yml).
#}
{% macro records_state(node) -%}
    {{- return(node.resource_type == 'model' and (
        node.config.materialized == 'incremental'
        or (node.fqn[1] == 'staging' and node.config.materialized == 'table')
    )) -}}
{%- endmacro %}

{# The key of `node`'s state row (incremental_state_key_sql's, for a model other than the one being built). #}
{% macro node_state_key_sql(node) -%}
    {%- if node.schema == var('marts_build_schema', 'marts_build') -%}
        {%- set oid = "to_regclass('" ~ node.schema ~ "." ~ node.alias ~ "')::oid::text" -%}
        {{- mart_state_key_sql("'" ~ node.alias ~ "'", "coalesce(" ~ oid ~ ", '')") -}}
    {%- else -%}
        '{{ node.alias }}'
    {%- endif -%}
{%- endmacro %}

{#
    What this model's run goes through, as its state records it, when a build selects it without the models it reads
    that record their state (after a load, before the DAG's build, by hand): those still hold what their last runs
    went through, and the model must take the rest from them later. Each value is capped by the nearest such models
    upstream (their runs in this invocation come first, so a build of them all changes nothing). A model with none
    (staging, which reads raw) records the invocation's own.
    - model_through_sql: the newest batch, incremental_through_sql() at most, and no later than an upstream model
      that a later batch of a raw table it reads has not reached (a batch of other tables leaves it current).
    - model_failures_seen_sql: the moment after which its next run looks at the batches the raw gate failed, this
      invocation's start at most: a failed batch's rows leave staging only when staging is built again, and a
      model past staging has taken them out only up to its own failures_seen_at.
    An upstream model without a state row has gone through nothing this model has not: the model's own value (0 and
    -infinity on its first build) stands for it. Row changes and whole rebuilds upstream are stamped when the
    upstream model is built, so the model's own start (built_at) bounds those.
#}
{% macro model_through_sql() -%}
    {{- return(rendered_once('model_through_sql', render_model_through_sql)) -}}
{%- endmacro %}

{% macro model_failures_seen_sql() -%}
    {{- return(rendered_once('model_failures_seen_sql', render_model_failures_seen_sql)) -}}
{%- endmacro %}

{#
    What `render` (a macro of no arguments) renders for the model being built, once per invocation
    (once_per_invocation): the plan and the hooks render the same text several times, and it walks the graph and
    dbt's relation cache.
#}
{% macro rendered_once(name, render) -%}
    {{- return(once_per_invocation('rendered_once', name ~ '|' ~ model.unique_id, render)) -}}
{%- endmacro %}

{% macro render_model_through_sql() -%}
    {%- set upstream = upstream_with_state() -%}
    {%- if not upstream -%}{{- return(incremental_through_sql()) -}}{%- endif -%}
    least({{ incremental_through_sql() }}, (
        select min(upstream.value) from (
            {{- upstream_state_values_sql(upstream, 'through_batch_id', '0', with_raw_tables=true) }}
        ) as upstream
        -- one that has not gone through a later batch of a table it reads (one it does not read leaves it current)
        where exists (
            select from {{ raw_relation('ledger', 'load_batches') }} as later
            where later.batch_id > upstream.value
                and later.batch_id <= {{ incremental_through_sql() | indent(16) }}
                and later.source || '_' || later.entity = any(upstream.raw_tables)
        )
    ))
{%- endmacro %}

{% macro render_model_failures_seen_sql() -%}
    {%- set upstream = upstream_with_state() -%}
    {%- set started = "'" ~ run_started_at ~ "'::timestamptz" -%}
    {%- if not upstream -%}{{- return(started) -}}{%- endif -%}
    least({{ started }}, (
        select min(upstream.value) from (
            {{- upstream_state_values_sql(
                upstream, 'coalesce(failures_seen_at, built_at)', "'-infinity'::timestamptz"
            ) }}
        ) as upstream
    ))
{%- endmacro %}

{#
    One row per model `upstream`: `column` (an expression over a state row) of its state row as `value`, or, without
    a row, the model being built's own (it has gone through nothing this model has not), or `floor` before the
    model's first build; with `with_raw_tables`, the raw tables the upstream model reads as `raw_tables`.
#}
{% macro upstream_state_values_sql(upstream, column, floor, with_raw_tables=false) -%}
    {%- for node in upstream %}
            select
                coalesce({{ state_value_sql(node, column) }}, {{ own_state_value_sql(column) }}, {{ floor }}) as value
                {%- if with_raw_tables %},
                {{ key_array(upstream_raw_tables(node), 'text') }} as raw_tables
                {%- endif %}
            {{- '\n            union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#
    The models nearest upstream of the model being built that record their state (nearest_recording_upstream in
    graph_walks.sql), at execution, less those whose state table is not there (as dbt's relation cache knows it
    at the invocation's start): a warehouse's first build, whose state tables its own models make, caps nothing, as
    before these caps.
#}
{% macro upstream_with_state() -%}
    {%- if not execute -%}{{- return([]) -}}{%- endif -%}
    {%- set found = [] -%}
    {%- for node in nearest_recording_upstream(model) -%}
        {%- if adapter.get_relation(this.database, incremental_state_schema(node.schema), 'incremental_state') -%}
            {%- do found.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(found) -}}
{%- endmacro %}

{# `column` (an expression over a state row) of `node`'s state row, as a scalar subquery: null without a row. #}
{% macro state_value_sql(node, column) -%}
    (
        select {{ column }} from {{ incremental_state_schema(node.schema) }}.incremental_state
        where model = {{ node_state_key_sql(node) }}
    )
{%- endmacro %}

{# The same of the model being built, as its last run recorded it; null before its first. #}
{% macro own_state_value_sql(column) -%}
    {%- if adapter.get_relation(this.database, incremental_state_schema(this.schema), 'incremental_state') is none -%}
        {{- return('null') -}}
    {%- endif -%}
    (select {{ column }} from {{ incremental_state_relation() }} where model = {{ incremental_state_key_sql() }})
{%- endmacro %}

{# The raw tables `node` reads through dbt's graph (their identifiers, raw.<source>_<entity> as in the ledger). #}
{% macro upstream_raw_tables(node) -%}
    {%- set tables = [] -%}
    {%- for uid in graph_ancestors(node) if uid in graph.sources and graph.sources[uid].source_name != 'ledger' -%}
        {%- do tables.append(graph.sources[uid].identifier) -%}
    {%- endfor -%}
    {{- return(tables | sort) -}}
{%- endmacro %}

{#
    The batches a run must look at: new ones, and those the raw gate failed since the model's failures_seen_at (its
    last run's start, or its upstream models' earlier one: model_failures_seen_sql).
#}
{% macro incremental_batches_sql(plan) -%}
    select batch_id from {{ raw_relation('ledger', 'load_batches') }}
    where (batch_id > {{ plan.since }} and batch_id <= {{ plan.through }})
        or (
            validation = 'failed'
            and validated_at >= '{{ plan.failures_seen_at }}'::timestamptz
            and validated_at < '{{ run_started_at }}'::timestamptz
            and batch_id <= {{ plan.through }}
        )
{%- endmacro %}

{#
    `column` limited to the batches `batches_sql` selects: first to the range from their lowest to their highest id,
    which PostgreSQL reads through the raw tables' BRIN index on _batch_id (tealeaves.load.ddl), then to the list.
    `column in (batches)` alone is a hash join over the whole table: 2.2 s for the four support tables' touched
    tickets at 100,000 customers, read twice per model and run.
#}
{% macro in_batches(column, batches_sql) -%}
    (
        {{ column }} >= (select min(batch_id) from ({{ batches_sql }}) as lowest (batch_id))
        and {{ column }} <= (select max(batch_id) from ({{ batches_sql }}) as highest (batch_id))
        and {{ column }} in ({{ batches_sql }})
    )
{%- endmacro %}

{#
    The fingerprint of `node` (the model being built when none): its SQL, every upstream model's and seed's
    checksum, the vars that change what a row means and, under an enforced contract, its declared columns (a
    contract's table is remade, not altered, when they change: macros/reuse_retired_marts.sql).
#}
{% macro incremental_fingerprint(node=none) -%}
    {%- set node = model if node is none else node -%}
    {%- set ns = namespace(parts=[node.checksum.checksum]) -%}
    {%- if node.config.contract.enforced -%}
        {%- for column in node.columns.values() -%}
            {%- do ns.parts.append('column ' ~ column.name ~ ' ' ~ column.data_type) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for node_id in graph_ancestors(node) | sort if node_id in graph.nodes -%}
        {%- do ns.parts.append(node_id ~ '=' ~ graph.nodes[node_id].checksum.checksum) -%}
    {%- endfor -%}
    {%- do ns.parts.append('reporting_currency=' ~ var('reporting_currency', '')) -%}
    {%- do ns.parts.append('reporting_timezone=' ~ reporting_timezone()) -%}
    {%- do ns.parts.append('as_of=' ~ (reporting_as_of() or '')) -%}
    {%- for name in ['support_as_of', 'support_schedule_name'] -%}
        {%- do ns.parts.append(name ~ '=' ~ var(name, '')) -%}
    {%- endfor -%}
    {{- return(local_md5(ns.parts | join('|'))) -}}
{%- endmacro %}

{#
    The fingerprint a model's state records: incremental_fingerprint(), and, for a model given `digest_sql` (a
    query returning one text that digests the inputs every row reads: small lists a connector may deliver whole
    every day), that digest too, so that a change in them recomputes everything and a re-delivery nothing.
#}
{% macro model_fingerprint(digest_sql=none) -%}
    {%- if digest_sql is none or not execute -%}{{- return(incremental_fingerprint()) -}}{%- endif -%}
    {%- set digest = run_query_once(digest_sql).columns[0].values()[0] -%}
    {{- return(local_md5(incremental_fingerprint() ~ '|' ~ digest)) -}}
{%- endmacro %}

{#
    True in an incremental run of the model being rendered: at execution (not parse or a unit test's fixture
    render), with its table there and no --full-refresh. The plans and hooks ask it before they read the database
    or dbt's graph.
#}
{% macro is_incremental_run() -%}
    {{- return(execute and this is not none and is_incremental()) -}}
{%- endmacro %}

{#
    What this run does. Outside an incremental run (first build, --full-refresh, compile without a database)
    plan.incremental is false and the model builds everything. `recompute_everything_if`: SQL conditions over
    the run's batches (a subquery `incremental_batches` of batch ids) that mean every row may have changed;
    `rebuilt_upstream`: incremental models whose rebuild from scratch since this model's last build means the same
    (rebuilt_whole_since_last_build, rendered only in an incremental run); `recompute_reason` says why in dbt's
    log when one holds; `digest_sql`: see model_fingerprint.
#}
{% macro incremental_plan(recompute_everything_if=[], rebuilt_upstream=[], recompute_reason='an input every row reads changed', digest_sql=none) -%}
    {%- set plan = namespace(
        incremental=false, since=0, through=0, last_built_at=none, failures_seen_at=none, horizon=none,
        fingerprint=none, reason='first build'
    ) -%}
    {%- if not is_incremental_run() -%}
        {{- return(plan) -}}
    {%- endif -%}
    {%- set state_table = adapter.get_relation(this.database, incremental_state_schema(this.schema), 'incremental_state') -%}
    {%- set plan.through = run_query_once('select ' ~ model_through_sql()).columns[0].values()[0] -%}
    {%- if state_table is none -%}
        {%- set plan.reason = 'no state recorded' -%}
        {{- return(plan) -}}
    {%- endif -%}
    {%- set plan.fingerprint = model_fingerprint(digest_sql) -%}
    {%- set state = run_query_once(
        "select through_batch_id, built_at::text, horizon::text, fingerprint,"
        ~ " coalesce(failures_seen_at, built_at)::text from " ~ incremental_state_relation()
        ~ " where model = " ~ incremental_state_key_sql()
    ) -%}
    {%- if state.rows | length == 0 -%}
        {%- set plan.reason = 'no state recorded' -%}
    {%- elif state.rows[0][3] != plan.fingerprint -%}
        {%- set plan.reason = 'code or settings changed' if digest_sql is none else 'code, settings or ' ~ recompute_reason -%}
    {%- else -%}
        {%- set plan.since = state.rows[0][0] -%}
        {%- set plan.last_built_at = state.rows[0][1] -%}
        {%- set plan.failures_seen_at = state.rows[0][4] -%}
        {%- set plan.horizon = state.rows[0][2] -%}
        {%- set plan.incremental = true -%}
        {%- set plan.reason = 'incremental' -%}
        {%- set conditions = recompute_everything_if + (
            [rebuilt_whole_since_last_build(rebuilt_upstream)] if rebuilt_upstream else []
        ) -%}
        {%- for condition in conditions -%}
            {%- set hit = run_query_once(
                'with incremental_batches as (' ~ incremental_batches_sql(plan) ~ ') select ' ~ condition
            ).columns[0].values()[0] -%}
            {%- if hit -%}
                {%- set plan.incremental = false -%}
                {%- set plan.reason = recompute_reason -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- do log(this.identifier ~ ': ' ~ plan.reason ~ ' (batches ' ~ plan.since ~ ' to ' ~ plan.through ~ ')', info=false) -%}
    {{- return(plan) -}}
{%- endmacro %}

{#
    The plan of a model kept by the staging records it reads (inputs, survey responses): it recomputes everything
    when a staging table `model_name` reads was re-staged whole since its last build (a staged batch the raw gate
    failed: records fall back to older copies, which no new row carries). The staging models come from dbt's
    graph, which only an incremental run reads.
#}
{% macro staged_inputs_plan(model_name) -%}
    {%- set staging = [] -%}
    {%- if is_incremental_run() -%}
        {%- set prefix = 'model.' ~ project_name ~ '.' -%}
        {%- for node_id in graph.nodes[prefix ~ model_name].depends_on.nodes if node_id.startswith(prefix ~ 'stg_') -%}
            {#- a lookup table rebuilt whole records a re-stage every run: naming it would recompute all daily -#}
            {%- if graph.nodes[node_id].config.materialized == 'incremental' -%}
                {%- do staging.append(node_id[prefix | length:]) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(incremental_plan(
        rebuilt_upstream=staging, recompute_reason='a staging table it reads was re-staged whole'
    )) -}}
{%- endmacro %}

{# A staging row of the batches after the model's last run (`plan`): staged since then. #}
{% macro staged_in(plan) -%}
    load_batch_id > {{ plan.since }} and load_batch_id <= {{ plan.through }}
{%- endmacro %}

{#
    incremental_plan's condition for `rebuilt_upstream`: one of the incremental models `model_names` was
    rebuilt whole (its restaged_at: first build, --full-refresh, a re-stage, a recompute of everything) after this
    model's last build, so every row it took from them may have changed with no batch to tell.
#}
{% macro rebuilt_whole_since_last_build(model_names) -%}
    exists (
        {%- for name in model_names %}
        {%- set node = graph.nodes['model.' ~ project_name ~ '.' ~ name] %}
        select from {{ incremental_state_schema(node.schema) }}.incremental_state as upstream
        where upstream.model = '{{ node.alias }}'
            and upstream.restaged_at > (
                select built_at from {{ incremental_state_relation() }} where model = {{ incremental_state_key_sql() }}
            )
        {{- '\n        union all' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#
    run_query, once per dbt invocation for each text. A model's plan and keys are read by its pre-hook, its body and
    its post-hook, which dbt renders one by one: the support models read theirs twice, 3.5 s each time at 100,000
    customers, and every staging model its plan three times (once_per_invocation keeps the answers). Only for queries
    whose answer cannot change during the invocation: the batch ledger up to the run's start, a model's own state
    row (written by its post-hook, after the last read), raw rows of those batches, and tables every model that asks
    the query runs after (two models share the answer only then: customers_of_invoices_touched, the MRR plans'
    `moved`).
#}
{% macro run_query_once(sql) -%}
    {{- return(once_per_invocation('run_query_once', sql, run_query, [sql])) -}}
{%- endmacro %}

{#
    The keys a query returns, as an array literal: a constant PostgreSQL pushes down through staging's DISTINCT ON.
#}
{% macro incremental_keys(keys_sql, key_type='bigint') -%}
    {{- return(incremental_keys_of([keys_sql], key_type)) -}}
{%- endmacro %}

{#
    The distinct non-null keys of a query's first column, as {array: PostgreSQL's text of the sorted array, count},
    asked once per invocation. PostgreSQL writes the array's text, quoting every key that needs it, so no key passes
    through Jinja one by one: quoting them there (the `key_array` of a list: 2.3 million `replace` calls in a
    profiled daily build at 100,000 customers) after agate had typed one row per key was about half of what the
    plans spent outside PostgreSQL, where a plan holds up to 30,000 keys and a model renders its keys in its plan,
    body and hooks (docs/performance.md, "Key lists written by PostgreSQL").
#}
{% macro distinct_keys(keys_sql) -%}
    {%- set found = run_query_once(
        "select coalesce(array_agg(key order by key)::text, '{}'), count(*) from (select distinct key from ("
        ~ keys_sql ~ ') as changed (key) where key is not null) as keys'
    ).rows[0] -%}
    {{- return({'array': found[0], 'count': found[1]}) -}}
{%- endmacro %}

{#
    The keys several queries return together, as one array literal. Each query is run on its own, so that two
    models asking one of them with the same plan share its answer; PostgreSQL merges the arrays when several have
    keys.
#}
{% macro incremental_keys_of(keys_sqls, key_type='bigint') -%}
    {%- set found = [] -%}
    {%- for keys_sql in keys_sqls -%}
        {%- set keys = distinct_keys(keys_sql) -%}
        {%- if keys.count > 0 -%}{%- do found.append(keys) -%}{%- endif -%}
    {%- endfor -%}
    {%- if found | length > 1 -%}
        {%- set arrays = [] -%}
        {%- for keys in found -%}
            {%- do arrays.append('select unnest(' ~ key_array(keys.array, key_type) ~ ')') -%}
        {%- endfor -%}
        {%- set keys = distinct_keys(arrays | join(' union all ')) -%}
    {%- else -%}
        {%- set keys = found[0] if found else {'array': '{}', 'count': 0} -%}
    {%- endif -%}
    {%- do log(this.identifier ~ ': recomputing ' ~ keys.count ~ ' keys', info=false) -%}
    {{- return(key_array(keys.array, key_type)) -}}
{%- endmacro %}

{#
    Pre-hook of a model kept by one key column: the rows the run replaces, those whose `key_column` is one of `keys`
    (an array literal, incremental_keys'); every row when the model recomputes everything in place (none).
#}
{% macro delete_keys_recomputed(key_column, keys) -%}
    {%- if is_incremental_run() -%}
        delete from {{ this }}
        {%- if keys is not none %}
        where {{ key_column }} = any({{ keys }})
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{#
    Keys of several kinds (an input source, a survey type) as {kind: keys}, every kind of `kinds` present, each kind's
    keys as PostgreSQL's text of their array (distinct_keys says why): the (kind, key) rows a query returns, nulls
    left out as distinct_keys leaves them. Keys are text; is_key_of_kind_in() is the condition for them.
#}
{% macro incremental_keys_by_kind(keys_sql, kinds) -%}
    {%- set found = run_query_once(
        'select kind, array_agg(key order by key)::text, count(*) from (select distinct kind, key from ('
        ~ keys_sql ~ ') as touched (kind, key) where key is not null) as keys group by kind order by kind'
    ) -%}
    {%- set keys = {} -%}
    {%- for kind in kinds -%}{%- do keys.update({kind: '{}'}) -%}{%- endfor -%}
    {%- set counted = namespace(keys=0) -%}
    {%- for row in found.rows -%}
        {%- if row[0] not in keys -%}
            {{- exceptions.raise_compiler_error(this.identifier ~ ': keys of an unknown kind, ' ~ row[0]) -}}
        {%- endif -%}
        {%- do keys.update({row[0]: row[1]}) -%}
        {%- set counted.keys = counted.keys + row[2] -%}
    {%- endfor -%}
    {%- do log(this.identifier ~ ': recomputing ' ~ counted.keys ~ ' keys', info=false) -%}
    {{- return(keys) -}}
{%- endmacro %}

{# A condition on a row's kind and key columns (text): it is one of `keys` (incremental_keys_by_kind). #}
{% macro is_key_of_kind_in(keys, kind_column, key_column) -%}
    (
        {%- for kind, ids in keys.items() %}
        ({{ kind_column }} = '{{ kind }}' and {{ key_column }} = any({{ key_array(ids, 'text') }}))
        {{- ' or' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#
    Keys as an array literal of `key_type`: `keys` is PostgreSQL's text of an array (distinct_keys'), or a list of
    values. Text keys of a list are quoted as array elements (a comma, brace, quote or space in an id stays inside
    its element); a list is for a few keys only (distinct_keys says why).
#}
{% macro key_array(keys, key_type='bigint') -%}
    {%- if keys is string -%}
        {{- return("'" ~ (keys | replace("'", "''")) ~ "'::" ~ key_type ~ "[]") -}}
    {%- endif -%}
    {%- if key_type == 'text' -%}
        {%- set quoted = [] -%}
        {%- for key in keys -%}
            {%- do quoted.append('"' ~ (key | replace('\\', '\\\\') | replace('"', '\\"') | replace("'", "''")) ~ '"') -%}
        {%- endfor -%}
        {{- return("'{" ~ quoted | join(',') ~ "}'::text[]") -}}
    {%- endif -%}
    {{- return("'{" ~ keys | join(',') ~ "}'::" ~ key_type ~ "[]") -}}
{%- endmacro %}

{# The state table, made if missing. #}
{% macro incremental_state_ddl(relation) -%}
    -- models of one schema build side by side, and two concurrent `create table if not exists` of one name can
    -- both try to create it: the first to take this lock creates the table, the others wait for its commit
    select pg_advisory_xact_lock(hashtext('{{ relation }}'));
    create table if not exists {{ relation }} (
        model            text primary key,
        through_batch_id bigint not null,
        built_at         timestamptz not null,
        horizon          timestamp,
        fingerprint      text not null,
        restaged_at      timestamptz,
        failures_seen_at timestamptz
    )
{%- endmacro %}

{#
    on-run-start: a state table made before restaged_at or failures_seen_at existed gets them, here, before any model
    runs (an ALTER in the post-hooks would wait for the other models' transactions that read the table, and they for
    its lock).
#}
{% macro upgrade_incremental_state() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set schemas = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.config.materialized == 'incremental' -%}
        {%- if node.schema not in schemas -%}{%- do schemas.append(node.schema) -%}{%- endif -%}
    {%- endfor -%}
    {%- for schema in schemas %}
    {%- for column in ['restaged_at', 'failures_seen_at'] %}
    do $$ begin
        if exists (
            select from information_schema.tables
            where table_schema = '{{ schema }}' and table_name = 'incremental_state'
        ) and not exists (
            select from information_schema.columns
            where table_schema = '{{ schema }}' and table_name = 'incremental_state' and column_name = '{{ column }}'
        ) then
            alter table {{ adapter.quote(schema) }}.incremental_state add column {{ column }} timestamptz;
        end if;
    end $$;
    {%- endfor %}
    {%- endfor %}
{%- endmacro %}

{#
    Post-hook: what the run went through, in the model's transaction. `horizon_sql` is the as-of moment the run
    measured against; the next run also looks at entities with events after it (an event the build's clock had
    not yet reached then). Every value is computed as the body computed it: `through` from the ledger as of this
    invocation's start and the upstream models' state (model_through_sql), the fingerprint from the graph.
    `rebuilt_whole`: this run rebuilt the table from scratch, so every row may be new (restaged_at, which the data
    tests' scoping reads). `digest_sql`: the model's plan's.
#}
{% macro record_incremental_state(horizon_sql='null', rebuilt_whole=false, digest_sql=none) -%}
    {{ incremental_state_ddl(incremental_state_relation()) }};
    {%- if this.schema == var('marts_build_schema', 'marts_build') %}
    -- the rows of this mart's dropped tables (each build's table has its own OID)
    delete from {{ incremental_state_relation() }}
    where model like '{{ this.identifier }}@%'
        and not exists (
            select from pg_class where {{ mart_state_key_sql("'" ~ this.identifier ~ "'", 'pg_class.oid') }} = model
        );
    {%- endif %}
    insert into {{ incremental_state_relation() }} as state
        (model, through_batch_id, built_at, horizon, fingerprint, restaged_at, failures_seen_at)
    select
        {{ incremental_state_key_sql() }},
        {{ model_through_sql() }},
        '{{ run_started_at }}'::timestamptz,
        {{ horizon_sql }},
        '{{ model_fingerprint(digest_sql) }}',
        '{{ run_started_at }}'::timestamptz,
        {{ model_failures_seen_sql() }}
    on conflict (model) do update set
        through_batch_id = excluded.through_batch_id,
        built_at = excluded.built_at,
        failures_seen_at = excluded.failures_seen_at,
        horizon = excluded.horizon,
        fingerprint = excluded.fingerprint,
        restaged_at = case
            when {{ 'true' if rebuilt_whole else 'false' }} or state.restaged_at is null then excluded.restaged_at
            else state.restaged_at
        end
{%- endmacro %}
