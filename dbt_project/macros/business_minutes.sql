{#
    Business minutes of each span in `spans` (a CTE with span_key_columns, started_at, ended_at): the spans are
    intersected with the schedule's open intervals (int_business_intervals_expanded) and the overlaps summed,
    set-wise as Fivetran's dbt_zendesk does. A span with no open minute gets 0; a span without an end is left
    out. Returns a select of the key columns and business_minutes (fractional minutes, to the second).
#}
{% macro business_minutes(spans, span_key_columns, schedule_name) -%}
    select
        {% for column in span_key_columns -%}
            {{ spans }}.{{ column }},
        {% endfor -%}
        -- sum over matched intervals only: least() and greatest() ignore nulls in PostgreSQL, so an
        -- unmatched (null) interval would otherwise count the whole span
        coalesce(sum(
            extract(epoch from
                least({{ spans }}.ended_at, open_intervals.interval_end_at)
                - greatest({{ spans }}.started_at, open_intervals.interval_start_at)
            )
        ) filter (where open_intervals.interval_start_at is not null), 0) / 60.0 as business_minutes
    from {{ spans }}
    left join {{ ref('int_business_intervals_expanded') }} as open_intervals
        on open_intervals.schedule_name = '{{ schedule_name }}'
        and open_intervals.interval_start_at < {{ spans }}.ended_at
        and open_intervals.interval_end_at > {{ spans }}.started_at
    where {{ spans }}.ended_at is not null
    group by {% for column in span_key_columns %}{{ spans }}.{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}
{%- endmacro %}
