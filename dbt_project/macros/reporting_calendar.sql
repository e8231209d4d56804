{#
    The reporting calendar. Every day, month and cohort in the marts is a day or month of the reporting time zone
    (TEALEAVES_TIMEZONE or var reporting_timezone: an IANA name, default UTC), so a merchant in Sydney sees a
    renewal at local midnight on 1 March in March, not in February.

    Instants stay UTC (`timestamp` without time zone, as staging makes them). Durations - first reply,
    resolution, SLA clocks, business minutes against the support schedule's own zone - are differences of
    instants and so stay right across daylight-saving changes, which local wall times would not (a span over
    the night the clocks go back would lose an hour). Only two things go through the zone: bucketing an instant
    into its local day or month (local_date, local_month), and turning a local day back into the instant it
    begins (local_day_start), which is where a month-end snapshot or a "before the month's end" filter is taken.

    For UTC each macro renders the plain expression it replaces, so a UTC build is the same SQL as before.
#}

{#-
    Where the two settings come from: var reporting_timezone or as_of when given (--vars, a unit test's overrides),
    else TEALEAVES_TIMEZONE or TEALEAVES_AS_OF, read when dbt runs a node. Not while it parses: dbt parses the whole
    project again (about 12 s) whenever an environment variable dbt_project.yml reads changes, so every `tealeaves
    run --as-of` with a new date, and every build in another zone, paid a full parse. Parsing renders the models only
    to find their refs and configs, which neither setting changes.
-#}
{% macro reporting_setting(var_name, env_name, default) -%}
    {%- set value = var(var_name, none) -%}
    {%- if value is none -%}
        {%- set value = env_var(env_name, default) if execute else default -%}
    {%- endif -%}
    {{- return(value | string | trim) -}}
{%- endmacro %}

{#- The reporting time zone's name, checked: an unknown zone fails the build here with one line, not deep in SQL. -#}
{% macro reporting_timezone() -%}
    {%- set zone = reporting_setting('reporting_timezone', 'TEALEAVES_TIMEZONE', 'UTC') -%}
    {%- if zone not in modules.pytz.all_timezones_set -%}
        {{ exceptions.raise_compiler_error(
            "var reporting_timezone (TEALEAVES_TIMEZONE) = '" ~ zone ~ "' is not an IANA time zone name such as UTC or"
            ~ " Australia/Sydney"
        ) }}
    {%- endif -%}
    {{ return(zone) }}
{%- endmacro %}

{#- The wall-clock time in the reporting time zone of a UTC instant (timestamp without time zone). -#}
{% macro local_time(instant) -%}
    {%- set zone = reporting_timezone() -%}
    {%- if zone == 'UTC' -%}
        ({{ instant }})
    {%- else -%}
        (({{ instant }}) at time zone 'UTC' at time zone '{{ zone }}')
    {%- endif -%}
{%- endmacro %}

{#- The reporting time zone's calendar day of a UTC instant. -#}
{% macro local_date(instant) -%}
    {{ local_time(instant) }}::date
{%- endmacro %}

{#- The first day of the reporting time zone's calendar month of a UTC instant. -#}
{% macro local_month(instant) -%}
    date_trunc('month', {{ local_time(instant) }})::date
{%- endmacro %}

{#-
    The UTC instant at which a calendar day (a date, or a timestamp at midnight such as `month + interval '1 month'`)
    begins in the reporting time zone: the exclusive end of the day before, e.g. of a month.
-#}
{% macro local_day_start(day) -%}
    {%- set zone = reporting_timezone() -%}
    {%- if zone == 'UTC' -%}
        ({{ day }})::timestamp
    {%- else -%}
        ((({{ day }})::timestamp at time zone '{{ zone }}') at time zone 'UTC')
    {%- endif -%}
{%- endmacro %}

{#-
    The reporting date (TEALEAVES_AS_OF or var as_of), 'YYYY-MM-DD', or none when it is not set: then each
    model takes the end of its own data. Checked, so a typo fails the build instead of reporting as of nothing.
-#}
{% macro reporting_as_of() -%}
    {%- set as_of = reporting_setting('as_of', 'TEALEAVES_AS_OF', '') -%}
    {%- if as_of in ('', 'None', 'none') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of) -%}
        {{ exceptions.raise_compiler_error("var as_of (TEALEAVES_AS_OF) = '" ~ as_of ~ "' is not a date YYYY-MM-DD") }}
    {%- endif -%}
    {{ return(as_of) }}
{%- endmacro %}
