{#
    Data tests on the incremental staging tables read only the rows staged since the test last passed, so a
    daily run tests the day's rows instead of the whole history (issue 15). The rows a test skips are the rows
    it already passed on, unchanged since: an incremental run replaces records only by inserting the newest copy
    with its batch id (macros/staging_incremental.sql), so every row it wrote has a load_batch_id above the
    batches staged before it.

    Which tests: not_null, column_values and accepted_values (a verdict per row); unique, over every row whose
    value some new row has (two kept rows that shared a value would have failed it already); relationships from
    one such table to another (an incremental run never drops a key, so a parent a kept row found is still there).
    Any other test, or one that reads a table rebuilt whole each run, reads its whole table every time.

    When a test reads everything again: it has not passed yet, or its last run failed or warned (a failing row
    keeps failing the next day, though no new batch carries it); any table it reads was re-staged whole since
    (first build, --full-refresh, new model code, a staged batch the raw gate failed); its arguments or `where`
    changed; a relationships test whose parent table was empty when it passed (an absent export exempts it,
    macros/test_relationships.sql); or the run sets the var test_whole_tables. A generic test's macro is not part
    of the definition: after changing one, run once with --vars '{test_whole_tables: true}'.

    Bookkeeping: <schema>.tested_through, one row per passing test (what it had read through, and the re-stage
    moments of the tables it read), written by the on-run-end hook from dbt's results; the re-stage moments are
    incremental_state.restaged_at (macros/incremental_by_key.sql).
#}

{% macro is_restaged_incrementally(node) -%}
    {{- return(
        node is not none
        and node.resource_type == 'model'
        and node.fqn[1] == 'staging'
        and node.config.materialized == 'incremental'
        and 'load_batch_id' in node.columns
    ) -}}
{%- endmacro %}

{# What a test may skip by: none, or the table it tests, the tables it reads and its definition's digest. #}
{% macro scoped_test(test_id) -%}
    {%- set test = graph.nodes.get(test_id) -%}
    {%- if test is none or test.resource_type != 'test' or not test.test_metadata -%}{{ return(none) }}{%- endif -%}
    {%- set kind = test.test_metadata.name -%}
    {%- set scoped_kinds = ['not_null', 'column_values', 'accepted_values', 'unique', 'relationships'] -%}
    {%- if test.test_metadata.namespace or kind not in scoped_kinds -%}{{ return(none) }}{%- endif -%}
    {%- set tested = graph.nodes.get(test.attached_node) -%}
    {%- if not is_restaged_incrementally(tested) -%}{{ return(none) }}{%- endif -%}
    {%- set scope = namespace(models=[], parents=[]) -%}
    {%- for node_id in test.depends_on.nodes -%}
        {%- set node = graph.nodes.get(node_id) -%}
        {%- if not is_restaged_incrementally(node) or node.schema != tested.schema -%}{{ return(none) }}{%- endif -%}
        {%- do scope.models.append(node.alias) -%}
        {%- if node_id != tested.unique_id -%}
            {%- do scope.parents.append(adapter.quote(node.schema) ~ '.' ~ adapter.quote(node.alias)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return({
        'id': test.unique_id,
        'database': tested.database,
        'schema': tested.schema,
        'tested': tested.alias,
        'models': scope.models | unique | sort,
        'parents': scope.parents,
        'definition': local_md5(tojson(test.test_metadata.kwargs, sort_keys=true) ~ '|' ~ (test.config.where or '')),
    }) -}}
{%- endmacro %}

{# The re-stage moments of the tables a test reads, as one text; null unless every one is recorded. #}
{% macro restaged_moments_sql(scope) -%}
    (
        select string_agg(model || '@' || restaged_at::text, ',' order by model)
        from {{ adapter.quote(scope.schema) }}.incremental_state
        where model in ('{{ scope.models | join("', '") }}') and restaged_at is not null
        having count(*) = {{ scope.models | length }}
    )
{%- endmacro %}

{# The batch a test has passed through on the rows it reads now, or none: read everything. #}
{% macro tested_through_batch(test_id, relation) -%}
    {%- if not execute or var('test_whole_tables', false) -%}{{ return(none) }}{%- endif -%}
    {%- set scope = scoped_test(test_id) -%}
    {%- if scope is none or relation.identifier != scope.tested -%}{{ return(none) }}{%- endif -%}
    {%- if adapter.get_relation(scope.database, scope.schema, 'tested_through') is none -%}{{ return(none) }}{%- endif -%}
    {%- set found = run_query(
        "select through_batch_id from " ~ adapter.quote(scope.schema) ~ ".tested_through"
        ~ " where test = '" ~ test_id ~ "' and definition = '" ~ scope.definition ~ "'"
        ~ " and restaged = " ~ restaged_moments_sql(scope)
    ) -%}
    {%- if found.rows | length == 0 -%}{{ return(none) }}{%- endif -%}
    {%- do log(test_id ~ ': rows staged after batch ' ~ found.rows[0][0], info=false) -%}
    {{- return(found.rows[0][0]) -}}
{%- endmacro %}

{#
    dbt wraps the table every generic test reads in this macro (its `where` config lives here); the root project's
    default__ comes first in dispatch. Adds the rows-staged-since condition to the test's own `where`.
#}
{% macro default__get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- if config.get('where') -%}{%- do conditions.append('(' ~ config.get('where') ~ ')') -%}{%- endif -%}
    {%- set through = tested_through_batch(model.unique_id, relation) -%}
    {%- if through is not none and model.test_metadata.name == 'unique' -%}
        {%- set column = model.test_metadata.kwargs.column_name -%}
        {%- do conditions.append(
            column ~ ' in (select ' ~ column ~ ' from ' ~ relation ~ ' where load_batch_id > ' ~ through ~ ')'
        ) -%}
    {%- elif through is not none -%}
        {%- do conditions.append('load_batch_id > ' ~ through) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{#
    on-run-end: each scoped test that passed has read its table through the batch the table is now staged
    through. A failed, warned, skipped or erroring test is not recorded, so its next run reads everything again.
#}
{% macro record_passed_data_tests(results) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set by_schema = {} -%}
    {%- for result in results if result.node.resource_type == 'test' and result.status == 'pass' -%}
        {%- set scope = scoped_test(result.node.unique_id) -%}
        {%- if scope is not none -%}{%- do by_schema.setdefault(scope.schema, []).append(scope) -%}{%- endif -%}
    {%- endfor -%}
    {%- for schema, scopes in by_schema.items() %}
    {%- set state = adapter.quote(schema) ~ '.incremental_state' %}
    {#- none yet: tables staged by a version before incremental staging, tested before their first build -#}
    {%- if run_query("select to_regclass('" ~ state ~ "') is not null").columns[0].values()[0] %}
    create table if not exists {{ adapter.quote(schema) }}.tested_through (
        test             text primary key,
        definition       text not null,
        restaged         text not null,
        through_batch_id bigint not null,
        tested_at        timestamptz not null
    );
    insert into {{ adapter.quote(schema) }}.tested_through
    select test, definition, restaged, through_batch_id, '{{ run_started_at }}'::timestamptz
    from (
        {%- for scope in scopes %}
        {{ 'union all ' if not loop.first }}select
            '{{ scope.id }}' as test,
            '{{ scope.definition }}' as definition,
            {{ restaged_moments_sql(scope) }} as restaged,
            (select through_batch_id from {{ state }} where model = '{{ scope.tested }}') as through_batch_id
        {%- for parent in scope.parents %}
        {{ 'where' if loop.first else 'and' }} exists (select from {{ parent }})
        {%- endfor %}
        {%- endfor %}
    ) as passed
    where restaged is not null and through_batch_id is not null
    on conflict (test) do update set
        definition = excluded.definition,
        restaged = excluded.restaged,
        through_batch_id = excluded.through_batch_id,
        tested_at = excluded.tested_at;
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#
    Post-hook of the incremental staging tables: an index on load_batch_id, so that a scoped test reads the new
    rows, not a scan of the table. Made here rather than in the models' `indexes`, which dbt creates only with the
    table: a warehouse staged before this index existed gets it on its next run. Named per run: a full refresh
    keeps the old table, and its index's name, until the new one is in place.
#}
{% macro index_load_batches() -%}
    {%- if not execute or model.config.materialized != 'incremental' -%}{{ return('') }}{%- endif -%}
    {%- set unindexed = run_query(
        "select from pg_attribute as batch_column where attrelid = '" ~ this ~ "'::regclass"
        ~ " and attname = 'load_batch_id' and not attisdropped and not exists ("
        ~ " select from pg_index where indrelid = attrelid and indkey[0] = batch_column.attnum)"
    ) -%}
    {%- if unindexed.rows | length > 0 -%}
        create index {{ adapter.quote(this.identifier ~ '__by_batch_' ~ local_md5(run_started_at | string)[:8]) }}
        on {{ this }} (load_batch_id)
    {%- endif -%}
{%- endmacro %}
