{#
    The moment the help-desk export describes: events after it have not happened yet as far as the marts are
    concerned. Set var support_as_of (a UTC timestamp) to pin it. Else, when the reporting date is set (var as_of),
    it is the end of that day in the reporting time zone. By default it is midnight (reporting time zone) after the
    local day of the newest ticket (a ticket's own creation is the one event a help desk cannot date in the
    future), but never later than the build's own clock, so a build during the day does not judge open tickets
    against a moment still to come. Comments, status changes and ratings dated after it (late-dated events in the
    export) are ignored, so an open ticket is measured against the clock at this moment.
#}
{% macro support_as_of() -%}
    {%- if var('support_as_of', none) is not none -%}
        cast('{{ var("support_as_of") }}' as timestamp)
    {%- elif reporting_as_of() is not none -%}
        {{ local_day_start("'" ~ reporting_as_of() ~ "'::date + 1") }}
    {%- else -%}
        (
            select least(
                {{ local_day_start(local_date('max(created_at)') ~ ' + 1') }},
                current_timestamp at time zone 'UTC'
            )
            from {{ ref('stg_support__tickets') }}
        )
    {%- endif -%}
{%- endmacro %}
