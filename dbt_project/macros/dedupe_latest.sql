{#
    Keep one row per key: the one from the newest load batch, and within a batch the last line.
    Re-exports, late deliveries and overlapping files are normal; raw keeps every copy, staging keeps one.
    Call it on a CTE whose key columns are already normalised (trimmed, cased), so that cosmetic variants of
    one record collapse too; the CTE must carry _batch_id and _source_line.
    DISTINCT ON rather than a ranked window filtered to rank 1: PostgreSQL estimates the rows left from the
    key's distinct count, where a rank filter is guessed at 0.5% of the input and every join above it is
    then planned as a nested loop.
#}
{% macro dedupe_latest(relation, key) -%}
    select distinct on ({{ key | join(', ') }}) *
    from {{ relation }} as rows_to_rank
    order by {{ key | join(', ') }}, _batch_id desc, _source_line desc
{%- endmacro %}
