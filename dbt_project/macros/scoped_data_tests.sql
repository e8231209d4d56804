{#
    Data tests on the incremental staging tables read only the rows staged since the test last passed, so a
    daily run tests the day's rows instead of the whole history (issue 15). The rows a test skips are the rows
    it already passed on, unchanged since: an incremental run replaces records only by inserting the newest copy
    with its batch id (macros/staging_incremental.sql), so every row it wrote has a load_batch_id above the
    batches staged before it.

    Which tests: not_null, column_values and accepted_values (a verdict per row); unique, over every row whose
    value some new row has (two kept rows that shared a value would have failed it already); relationships from
    one such table to another (an incremental run never drops a key, so a parent a kept row found is still there).
    The incremental models past staging are tested on the rows written since the test last passed instead
    (rewritten_rows_scope, below). Any other test, or one that reads a table rebuilt whole each run, reads its
    whole table every time.

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
        'definition': test_definition_digest(test),
    }) -}}
{%- endmacro %}

{# What a test checks, as a digest: its arguments and its `where`; a change makes it read everything again. #}
{% macro test_definition_digest(test) -%}
    {{- return(local_md5(tojson(test.test_metadata.kwargs, sort_keys=true) ~ '|' ~ (test.config.where or ''))) -}}
{%- endmacro %}

{#
    The incremental models past staging carry no batch id: they replace rows by their own keys (a delete and an
    insert). A test of one such model may skip the rows written before it last passed on the same table: a row's
    xmin is the transaction that wrote it, and every row a later transaction writes has a younger one. Which
    tests: not_null, column_values and accepted_values (a verdict per row) and unique (over every row whose value
    a new row has), reading only the model they test. Relationships read their whole tables: a model rebuilt whole
    can lose a parent key. The bookkeeping (<state schema>.tested_rows) is keyed by the table's OID, as a mart's
    two tables take turns (macros/reuse_retired_marts.sql); a --full-refresh makes a new table, which reads
    everything. What a pass records is the oldest transaction running as the test was about to read the table
    (tested_since_transaction): every row a transaction writes after that has a younger xmin, whoever writes it.
    A test's `where` may read only the row itself (not the clock, not other tables): the rows it skips are rows it
    passed on.
#}
{% macro rewritten_rows_scope(test_id) -%}
    {%- set test = graph.nodes.get(test_id) -%}
    {%- if test is none or test.resource_type != 'test' or not test.test_metadata -%}{{ return(none) }}{%- endif -%}
    {%- set kinds = ['not_null', 'column_values', 'accepted_values', 'unique'] -%}
    {%- if test.test_metadata.namespace or test.test_metadata.name not in kinds -%}{{ return(none) }}{%- endif -%}
    {%- set tested = graph.nodes.get(test.attached_node) -%}
    {%- if tested is none or tested.resource_type != 'model' or tested.config.materialized != 'incremental'
        or is_restaged_incrementally(tested) or test.depends_on.nodes | list != [tested.unique_id] -%}
        {{ return(none) }}
    {%- endif -%}
    {{- return({
        'id': test.unique_id,
        'database': tested.database,
        'state_schema': incremental_state_schema(tested.schema),
        'tested': tested.alias,
        'definition': test_definition_digest(test),
    }) -}}
{%- endmacro %}

{#
    The transaction (xid8, as text) from which a test's rows are new: none, read everything. Also notes, for
    record_passed_data_tests, the table the test reads (its OID) and the oldest transaction running as it is about
    to read it: a row a transaction writes after that has a younger xmin, whoever writes it. Not when the record is
    ahead of the server's transactions (another cluster's, restored) or a billion behind: a row's xmin is 32 bits,
    and age() tells a newer row from an older one only within two billion.
#}
{% macro tested_since_transaction(test_id, relation) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set scope = rewritten_rows_scope(test_id) -%}
    {%- if scope is none or relation.identifier != scope.tested -%}{{ return(none) }}{%- endif -%}
    {%- set table = adapter.quote(relation.schema) ~ '.' ~ adapter.quote(relation.identifier) -%}
    {%- set reading = run_query(
        "select pg_snapshot_xmin(pg_current_snapshot())::text, to_regclass('" ~ table ~ "')::oid::text"
    ).rows[0] -%}
    {%- do graph.setdefault('tealeaves_tests_reading', {}).update({test_id: {'since': reading[0], 'table_oid': reading[1]}}) -%}
    {%- if var('test_whole_tables', false) or reading[1] is none -%}{{ return(none) }}{%- endif -%}
    {%- if adapter.get_relation(scope.database, scope.state_schema, 'tested_rows') is none -%}{{ return(none) }}{%- endif -%}
    {%- set found = run_query(
        "select tested_since::text from " ~ adapter.quote(scope.state_schema) ~ ".tested_rows"
        ~ " where test = '" ~ test_id ~ "' and definition = '" ~ scope.definition ~ "'"
        ~ " and table_oid = " ~ reading[1]
        ~ " and pg_snapshot_xmax(pg_current_snapshot())::text::bigint - tested_since::text::bigint"
        ~ " between 0 and 1000000000"
    ) -%}
    {%- if found.rows | length == 0 -%}{{ return(none) }}{%- endif -%}
    {%- do log(test_id ~ ': rows written since transaction ' ~ found.rows[0][0], info=false) -%}
    {{- return(found.rows[0][0]) -}}
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
    {%- set since = tested_since_transaction(model.unique_id, relation) if through is none else none -%}
    {%- set new_rows = 'load_batch_id > ' ~ through if through is not none
        else "age(xmin) <= age(xid('" ~ since ~ "'::xid8))" if since is not none else none -%}
    {%- if new_rows is not none and model.test_metadata.name == 'unique' -%}
        {%- set column = model.test_metadata.kwargs.column_name -%}
        {%- do conditions.append(column ~ ' in (select ' ~ column ~ ' from ' ~ relation ~ ' where ' ~ new_rows ~ ')') -%}
    {%- elif new_rows is not none -%}
        {%- do conditions.append(new_rows) -%}
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
    {%- set rewritten = {} -%}
    {%- for result in results if result.node.resource_type == 'test' and result.status == 'pass' -%}
        {%- set scope = scoped_test(result.node.unique_id) -%}
        {%- if scope is not none -%}{%- do by_schema.setdefault(scope.schema, []).append(scope) -%}{%- endif -%}
        {%- set scope = rewritten_rows_scope(result.node.unique_id) -%}
        {%- set reading = graph.get('tealeaves_tests_reading', {}).get(result.node.unique_id) -%}
        {%- if scope is not none and reading and reading.table_oid is not none -%}
            {%- do rewritten.setdefault(scope.state_schema, []).append(dict(scope, **reading)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for schema, scopes in rewritten.items() %}
    {%- set tested_rows = adapter.quote(schema) ~ '.tested_rows' %}
    select pg_advisory_xact_lock(hashtext('{{ tested_rows }}'));
    create table if not exists {{ tested_rows }} (
        test         text not null,
        table_oid    oid not null,
        definition   text not null,
        tested_since xid8 not null,
        tested_at    timestamptz not null,
        primary key (test, table_oid)
    );
    delete from {{ tested_rows }} as kept where not exists (select from pg_class where oid = kept.table_oid);
    insert into {{ tested_rows }}
    select test, table_oid, definition, tested_since, '{{ run_started_at }}'::timestamptz
    from (
        values
        {%- for scope in scopes %}
        ('{{ scope.id }}', {{ scope.table_oid }}::oid, '{{ scope.definition }}', '{{ scope.since }}'::xid8)
        {{- ',' if not loop.last }}
        {%- endfor %}
    ) as passed (test, table_oid, definition, tested_since)
    on conflict (test, table_oid) do update set
        definition = excluded.definition,
        tested_since = excluded.tested_since,
        tested_at = excluded.tested_at;
    {%- endfor %}
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
    rows, not a scan of the table; and one on the column of each scoped unique test, which looks up every row
    sharing a value with a new row. Without that index the lookup's plan hinges on the estimate of the day's rows,
    which a table's statistics rarely hold yet (they predate the day's batch): PostgreSQL 18 then probes the
    table's (ticket_id, metric_event_id) index by its second column once per new row, a skip scan over every
    ticket. With parallel workers off that took 604 s for one day's ticket metric events at 100,000 customers,
    against 0.2 s through an index on the column. Not a unique index: a duplicate is the test's to report, with its
    rows, not a build's to fail.
#}
{% macro index_load_batches() -%}
    {%- if not execute or model.config.materialized != 'incremental' -%}{{ return('') }}{%- endif -%}
    {%- set wanted = [(['load_batch_id'], 'by_batch')] -%}
    {%- for test in graph.nodes.values()
        if test.resource_type == 'test' and test.attached_node == model.unique_id
        and test.test_metadata and test.test_metadata.name == 'unique' and scoped_test(test.unique_id) is not none -%}
        {%- set columns = [test.test_metadata.kwargs.column_name] -%}
        {#- numbered after the indexes wanted before it: by_unique_1, by_unique_2, ... -#}
        {%- if columns not in wanted | map('first') | list -%}
            {%- do wanted.append((columns, 'by_unique_' ~ wanted | length)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- indexes_if_missing(wanted) -}}
{%- endmacro %}

{#
    Post-hook: an index on `columns` (one name or a list) unless one starts with them, in that order. Made here
    rather than in the model's `indexes`, which dbt creates only with the table: a warehouse whose table was made
    before the index existed (an incremental model keeps its table) gets it on its next run. Named per run: a full
    refresh keeps the old table, and its index's name, until the new one is in place.
#}
{% macro index_if_missing(columns, name_part) -%}
    {{- indexes_if_missing([([columns] if columns is string else columns, name_part)]) -}}
{%- endmacro %}

{# index_if_missing for several indexes, `wanted` a list of (columns, name part), in one catalog query. #}
{% macro indexes_if_missing(wanted) -%}
    {%- if not execute or not wanted -%}{{ return('') }}{%- endif -%}
    {%- set checks = [] -%}
    {%- for columns, name_part in wanted -%}
        {%- set position = loop.index0 -%}
        {%- set attnums = [] -%}
        {%- for column in columns -%}
            {%- do attnums.append(
                "(select attnum from pg_attribute where attrelid = indexed.oid and attname = '"
                ~ column | replace("'", "''") ~ "' and not attisdropped)"
            ) -%}
        {%- endfor -%}
        {%- set leading = [] -%}
        {%- for attnum in attnums -%}
            {%- do leading.append('pg_index.indkey[' ~ loop.index0 ~ '] = ' ~ attnum) -%}
        {%- endfor -%}
        {%- do checks.append(
            "select " ~ position ~ " from pg_class as indexed where indexed.oid = '" ~ this ~ "'::regclass"
            ~ " and " ~ (attnums | join(' is not null and ')) ~ " is not null"
            ~ " and not exists (select from pg_index where indrelid = indexed.oid and "
            ~ (leading | join(' and ')) ~ ")"
        ) -%}
    {%- endfor -%}
    {%- set unindexed = run_query(checks | join(' union all ')) -%}
    {%- for row in unindexed.rows -%}
        {%- set columns, name_part = wanted[row[0] | int] -%}
        {%- set quoted = [] -%}
        {%- for column in columns -%}{%- do quoted.append(adapter.quote(column)) -%}{%- endfor -%}
        create index {{ adapter.quote(this.identifier ~ '__' ~ name_part ~ '_' ~ local_md5(run_started_at | string)[:8]) }}
        on {{ this }} ({{ quoted | join(', ') }});
    {% endfor -%}
{%- endmacro %}
