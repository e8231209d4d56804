{#
    A raw table as staging may read it: every row except those of batches the raw quality gate failed.
    A failed batch stays in raw (nothing is lost, the gate's results say why) but is held back from every
    model until a corrected file supersedes it. See include/tealeaves/quality/raw_gate.py.
#}
{% macro audited_source(source_name, table_name) -%}
    (
        select *
        from {{ source(source_name, table_name) }}
        where _batch_id not in (
            select batch_id from {{ source('ledger', 'load_batches') }} where validation = 'failed'
        )
    ) as audited_rows
{%- endmacro %}
