{#
    A raw table as staging may read it: every row except those of batches the raw quality gate failed.
    A failed batch stays in raw (nothing is lost, the gate's results say why) but is held back from every
    model until a corrected file supersedes it. See include/tealeaves/quality/raw_gate.py.
#}
{% macro audited_source(source_name, table_name) -%}
    {{ audited_rows(source(source_name, table_name)) }}
{%- endmacro %}

{#
    The same for a raw relation named directly (mart_source_coverage names raw tables from dbt's graph at
    execution, where source() would declare a dependency dbt did not parse).
#}
{% macro audited_rows(relation) -%}
    (
        select loaded_rows.*
        from {{ relation }} as loaded_rows
        -- an anti-join, not NOT IN: the planner then knows almost every row passes and plans joins accordingly
        where not exists (
            select from {{ source('ledger', 'load_batches') }} as failed_batches
            where failed_batches.batch_id = loaded_rows._batch_id and failed_batches.validation = 'failed'
        )
    ) as audited_rows
{%- endmacro %}
