{#
    The moment the help-desk export describes: events after it have not happened yet as far as the marts are
    concerned. Set var support_as_of (a UTC timestamp) to fix it; by default it is midnight after the day of
    the newest ticket, because a ticket's own creation is the one event a help desk cannot date in the future.
    Comments, status changes and ratings dated after it (late-dated events in the export) are ignored, so an
    open ticket is measured against the clock at this moment rather than against an event not yet due.
#}
{% macro support_as_of() -%}
    {%- if var('support_as_of', none) is not none -%}
        cast('{{ var("support_as_of") }}' as timestamp)
    {%- else -%}
        (select date_trunc('day', max(created_at)) + interval '1 day' from {{ ref('stg_support__tickets') }})
    {%- endif -%}
{%- endmacro %}
