{#
    Keep one row per key: the one from the newest load batch, and within a batch the last line.
    Re-exports, late deliveries and overlapping files are normal; raw keeps every copy, staging keeps one.
    Call it on a CTE whose key columns are already normalised (trimmed, cased), so that cosmetic variants of
    one record collapse too; the CTE must carry _batch_id and _source_line.
#}
{% macro dedupe_latest(relation, key) -%}
    select *
    from (
        select
            rows_to_rank.*,
            row_number() over (
                partition by {{ key | join(', ') }}
                order by _batch_id desc, _source_line desc
            ) as _row_rank
        from {{ relation }} as rows_to_rank
    ) as ranked
    where _row_rank = 1
{%- endmacro %}
