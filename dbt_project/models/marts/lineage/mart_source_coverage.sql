{#
    Which exports each mart was built from, and which were absent. A company without a help desk, without
    subscriptions or without a CRM still gets every mart built: those whose inputs are absent are empty or
    partly null, and this table says why. The quality gate reads it: a mart whose required inputs are absent is
    not held to "not empty".

    Raw tables are named from dbt's graph, not through source(): the lineage is only known at execution, and
    source() there would declare dependencies dbt did not parse. An export is present when staging may read a row
    of it (macro audited_rows: from a batch the raw gate did not fail). Presence, not row counts: a re-delivered
    copy of known records must leave every mart, this one included, as it was.
#}
-- depends_on: {{ source('ledger', 'load_batches') }}
{%- set lineage = mart_source_lineage() -%}
{%- set ns = namespace(relations=[]) -%}
{%- for row in lineage if row.raw_relation not in ns.relations -%}
    {%- do ns.relations.append(row.raw_relation) -%}
{%- endfor %}
with

lineage (mart_name, source_name, source_table, raw_relation, is_required) as (
    {%- if lineage %}
    values
    {%- for row in lineage %}
        ('{{ row.mart }}', '{{ row.source_name }}', '{{ row.source_table }}', '{{ row.raw_relation }}',
            {{ 'true' if row.required else 'false' }}){{ ',' if not loop.last }}
    {%- endfor %}
    {%- else %}
    select null::text, null::text, null::text, null::text, null::boolean where false
    {%- endif %}
),

exports_present (raw_relation, is_present) as (
    {%- for relation in ns.relations %}
    select '{{ relation }}', exists (select from {{ audited_rows(relation) }})
    {{ 'union all' if not loop.last }}
    {%- else %}
    select null::text, null::boolean where false
    {%- endfor %}
),

coverage as (
    select
        lineage.mart_name,
        lineage.source_name,
        lineage.source_table,
        lineage.is_required,
        coalesce(exports_present.is_present, false) as is_present
    from lineage
    left join exports_present
        on lineage.raw_relation = exports_present.raw_relation
),

final as (
    select
        mart_name,
        source_name,
        source_table,
        is_required,
        is_present,
        bool_and(is_present or not is_required) over (partition by mart_name) as has_required_sources,
        case
            when is_present then 'built from ' || source_name || '.' || source_table
            when is_required then 'absent: the mart is empty without it'
            else 'absent: columns that come from it are null or zero'
        end as coverage_note
    from coverage
)

select
    mart_name,
    source_name,
    source_table,
    is_required,
    is_present,
    has_required_sources,
    coverage_note
from final
