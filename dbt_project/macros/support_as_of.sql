{#
    The moment the help-desk export describes: events after it have not happened yet as far as the marts are
    concerned. Set var support_as_of (a UTC timestamp) to pin it. Else, when the reporting date is set (var as_of),
    it is the end of that day in the reporting time zone. By default it is the latest event the export holds: the
    latest ticket creation or update (Zendesk moves updated_at on every comment, status change and rating), comment
    or status change. The export was taken at that moment or later, so nothing it holds is ignored (a solve on the
    export's last afternoon shows the ticket solved, not open); the moment is never later than the build's own
    clock, so an event dated in the future (a clock error upstream) does not move it. Open tickets are judged
    against this moment: when the export's real time is known and later, pin it with var support_as_of.
    The default is computed once per build, by model int_support_as_of; a pinned moment stays a constant in the
    SQL, where the planner sees its value.
#}
{% macro support_as_of() -%}
    {#- depends_on whatever the vars at parse time, so every caller builds after int_support_as_of -#}
    {%- set computed = ref('int_support_as_of') -%}
    {%- if var('support_as_of', none) is not none or reporting_as_of() is not none -%}
        {{ support_as_of_computed() }}
    {%- else -%}
        (select as_of_at from {{ computed }})
    {%- endif -%}
{%- endmacro %}

{# The as-of moment as SQL, from the vars or from the export's latest event: int_support_as_of's definition. #}
{% macro support_as_of_computed() -%}
    {%- if var('support_as_of', none) is not none -%}
        cast('{{ var("support_as_of") }}' as timestamp)
    {%- elif reporting_as_of() is not none -%}
        {{ local_day_start("'" ~ reporting_as_of() ~ "'::date + 1") }}
    {%- else -%}
        (
            -- greatest() ignores nulls in PostgreSQL: an export without comments or history still has a moment
            select least(
                greatest(
                    (select max(greatest(created_at, updated_at)) from {{ ref('stg_support__tickets') }}),
                    (select max(created_at) from {{ ref('stg_support__ticket_comments') }}),
                    (
                        select max(changed_at) from {{ ref('stg_support__ticket_field_history') }}
                        where field_name = 'status'
                    )
                ),
                current_timestamp at time zone 'UTC'
            )
        )
    {%- endif -%}
{%- endmacro %}
