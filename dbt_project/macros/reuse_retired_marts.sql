{#
    on-run-start: the incremental marts the last publish retired (in `marts_previous`) become the build schema's
    again, so that they carry on from rows they built before instead of starting from nothing every day.

    Publishing renames `marts_build` to `marts` and the old `marts` to `marts_previous` (include/tealeaves/publish.py),
    so after a publish there is no build schema left. When this invocation builds an incremental mart, the build
    schema holds no relation (absent, or just made empty by dbt) and `marts_previous` exists, that schema is renamed
    to the build schema, keeping each table's rows and indexes. A mart's state is keyed by its table's OID, which the
    renames keep (incremental_state_relation), so those marts recompute what changed since the run that built
    them, two runs ago. Every other relation is dropped: the marts built whole are built again by the
    same run, and a removed mart is not published again. So is an incremental mart this invocation builds whose
    fingerprint (its code, its inputs' code, its contract's columns: incremental_fingerprint) differs from the one
    its state recorded, so that dbt creates it again instead of altering a contract's table; that also holds for a
    build schema a failed gate left behind. `marts_previous` is therefore kept until the next build starts, not for
    a whole run; while a build runs, `marts` is the only published set.

    dbt lists the build schema's relations into its cache before this hook runs, so the hook tells the cache what it
    moves and drops: without that dbt would create a table over an existing one. Under the publish step's lock, so a
    publish never renames the schemas under it. Only for the default build schema: `dbt docs generate` points the
    marts at `marts` itself.
#}
{% macro reuse_retired_marts() -%}
    {%- set build = var('marts_build_schema', 'marts_build') -%}
    {%- if not execute or flags.WHICH not in ('build', 'run') or build != 'marts_build' -%}{{ return('') }}{%- endif -%}
    {%- set incremental = {} -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.schema == build
        and node.config.materialized == 'incremental' and node.unique_id in selected_resources -%}
        {%- do incremental.update({node.alias: node}) -%}
    {%- endfor -%}
    {%- if not incremental -%}{{ return('') }}{%- endif -%}
    {%- set rotate = run_query(
        "select exists (select from pg_namespace where nspname = 'marts_previous') and not exists (
            select from pg_class
            where relnamespace = (select oid from pg_namespace where nspname = '" ~ build ~ "')
                and relkind in ('r', 'p', 'v', 'm')
        )"
    ).columns[0].values()[0] -%}
    {%- set source = 'marts_previous' if rotate else build -%}
    {%- set recorded = {} -%}
    {%- set state = incremental_state_schema(build) ~ '.incremental_state' -%}
    {%- if run_query("select to_regclass('" ~ state ~ "') is not null").columns[0].values()[0] -%}
        {%- for name, fingerprint in run_query(
            "select tables.relname, state.fingerprint
            from " ~ state ~ " as state
            inner join pg_class as tables on state.model = " ~ mart_state_key_sql('tables.relname', 'tables.oid') ~ "
            where tables.relnamespace = (select oid from pg_namespace where nspname = '" ~ source ~ "')"
        ).rows -%}
            {%- do recorded.update({name: fingerprint}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set carried = [] -%}
    {%- set stale = [] -%}
    {%- for name, node in incremental.items() -%}
        {%- set relation = api.Relation.create(database=target.database, schema=build, identifier=name, type='table') -%}
        {%- if recorded.get(name) == incremental_fingerprint(node) -%}
            {%- do carried.append(name) -%}
            {%- if rotate -%}{%- do adapter.cache_added(relation) -%}{%- endif -%}
        {%- else -%}
            {%- do stale.append(name) -%}
            {%- do adapter.cache_dropped(relation) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do log('reuse_retired_marts: ' ~ ('marts_previous becomes ' ~ build ~ ', carrying ' ~ (carried | join(', ')) if rotate else 'nothing retired to reuse') ~ '; rebuilt whole: ' ~ (stale | join(', ')), info=false) -%}
    do $reuse$
    declare
        dropped record;
    begin
        perform pg_advisory_xact_lock(hashtext('tealeaves.publish'));
        {%- if rotate %}
        drop schema if exists {{ adapter.quote(build) }};
        alter schema marts_previous rename to {{ adapter.quote(build) }};
        {%- endif %}
        for dropped in
            select relname, case relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end as kind
            from pg_class
            where relnamespace = (select oid from pg_namespace where nspname = '{{ build }}')
                and relkind in ('r', 'p', 'v', 'm')
                and (
                    relname = any('{{ '{' ~ (stale | join(',')) ~ '}' }}'::text [])
                    {%- if rotate %}
                    or relname <> all('{{ '{' ~ (carried | join(',')) ~ '}' }}'::text [])
                    {%- endif %}
                )
        loop
            execute format('drop %s if exists %I.%I cascade', dropped.kind, '{{ build }}', dropped.relname);
        end loop;
    end
    $reuse$
{%- endmacro %}
