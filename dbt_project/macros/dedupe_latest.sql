{#
    Keep one row per key: the one from the newest load batch, and within a batch the last line.
    Re-exports and overlapping files are normal; the raw layer keeps every copy, staging keeps one.
#}
{% macro dedupe_latest(relation, key) -%}
    select *
    from (
        select
            source_rows.*,
            row_number() over (
                partition by {{ key | join(', ') }}
                order by _batch_id desc, _source_line desc
            ) as _row_rank
        from {{ relation }} as source_rows
    ) as ranked
    where _row_rank = 1
{%- endmacro %}
