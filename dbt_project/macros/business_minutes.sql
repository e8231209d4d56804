{#
    Business minutes of each span in `spans` (a CTE with span_key_columns, started_at, ended_at, one row per key):
    the open minutes of the schedule (int_business_intervals_expanded) between the span's start and its end,
    fractional, to the microsecond. A span with no open minute gets 0; a span without an end is left out; a span
    must not end before it starts. Returns a select of the key columns, the span's started_at and ended_at, and
    business_minutes (the bounds too, so that a caller needs no join back to its spans: at 100,000 customers that
    join of 3.7 million spans took 6 s of int_tickets_measured's 36 to 40).

    How: as a difference of two running totals, open_seconds(ended_at) - open_seconds(started_at), where
    open_seconds(t) is the schedule's open time before t. Each interval is cut at UTC midnights; the open time
    before a day starts is a running sum over the days; a moment adds the parts of its own day's intervals that
    began before it. Every lookup is an equality on a day, so each span costs the same whatever the schedule's
    length, and the result is the sum of the span's overlaps with every interval, exactly (numeric seconds).
    The set-wise range join this replaces (every span against every interval it might overlap: the planner can
    only nest-loop it) compared 188,000 spans with all 525 intervals of two years at 5,000 customers: 98 million
    comparisons, 10 s of the model's 12 s, and more per span with every month of history.
    An interval that ends before it starts (no such schedule row exists) counts no open time.
#}
{% macro business_minutes(spans, span_key_columns, schedule_name) -%}
    with

    open_interval_parts as (
        -- each open interval cut at UTC midnights: its part on each day it touches
        select
            part_day::date as calendar_day,
            greatest(open_intervals.interval_start_at, part_day) as part_start_at,
            least(open_intervals.interval_end_at, part_day + interval '1 day') as part_end_at
        from {{ ref('int_business_intervals_expanded') }} as open_intervals
        cross join lateral generate_series(
            date_trunc('day', open_intervals.interval_start_at),
            open_intervals.interval_end_at - interval '1 microsecond',
            interval '1 day'
        ) as part_day
        where open_intervals.schedule_name = '{{ schedule_name }}'
            and open_intervals.interval_end_at > open_intervals.interval_start_at
    ),

    day_open_seconds as (
        select calendar_day, sum(extract(epoch from part_end_at - part_start_at)) as open_seconds
        from open_interval_parts
        group by calendar_day
    ),

    schedule_days as (
        -- every day from the schedule's first through the day after its last (before which all open time lies)
        select
            generate_series(min(calendar_day)::timestamp, (max(calendar_day) + 1)::timestamp, interval '1 day')::date
                as calendar_day
        from day_open_seconds
    ),

    open_seconds_before_days as (
        select
            schedule_days.calendar_day,
            coalesce(
                sum(day_open_seconds.open_seconds) over (
                    order by schedule_days.calendar_day rows between unbounded preceding and 1 preceding
                ),
                0
            ) as open_seconds_before
        from schedule_days
        left join day_open_seconds on schedule_days.calendar_day = day_open_seconds.calendar_day
    ),

    schedule_bounds as (
        select
            min(calendar_day) as first_day,
            max(calendar_day) as after_last_day,
            max(open_seconds_before) as total_open_seconds
        from open_seconds_before_days
    ),

    moments as (
        select started_at as moment_at from {{ spans }} where ended_at is not null and started_at is not null
        union
        select ended_at from {{ spans }} where ended_at is not null and started_at is not null
    ),

    moment_open_seconds as (
        -- the open time before each moment: before its day, plus its day's parts begun before it
        select
            moments.moment_at,
            coalesce(
                open_seconds_before_days.open_seconds_before,
                case
                    when moments.moment_at < schedule_bounds.first_day then 0
                    else schedule_bounds.total_open_seconds
                end,
                0
            )
            + coalesce(sum(extract(epoch from least(parts.part_end_at, moments.moment_at) - parts.part_start_at)), 0)
                as open_seconds
        from moments
        cross join schedule_bounds
        left join open_seconds_before_days
            on moments.moment_at::date = open_seconds_before_days.calendar_day
        left join open_interval_parts as parts
            on moments.moment_at::date = parts.calendar_day
            and parts.part_start_at < moments.moment_at
        group by
            moments.moment_at,
            open_seconds_before_days.open_seconds_before,
            schedule_bounds.first_day,
            schedule_bounds.total_open_seconds
    )

    select
        {% for column in span_key_columns -%}
            {{ spans }}.{{ column }},
        {% endfor -%}
        {{ spans }}.started_at,
        {{ spans }}.ended_at,
        coalesce(span_ends.open_seconds - span_starts.open_seconds, 0) / 60.0 as business_minutes
    from {{ spans }}
    left join moment_open_seconds as span_starts on {{ spans }}.started_at = span_starts.moment_at
    left join moment_open_seconds as span_ends on {{ spans }}.ended_at = span_ends.moment_at
    where {{ spans }}.ended_at is not null
{%- endmacro %}

{#
    The minutes of each ticket's spans, one row per ticket and a pair of columns per span name
    (<span>_calendar_minutes, <span>_business_minutes), rounded as int_tickets_measured stores them. `spans` is a
    CTE of ticket_id, span, started_at, ended_at. One definition for the model and for its post-hook that moves
    the running SLA clocks (move_running_sla_clocks), which must measure a span exactly as the model does.
#}
{% macro ticket_span_minutes(spans, span_names) -%}
    with

    span_business_minutes as (
        {{ business_minutes(spans, ['ticket_id', 'span'], var('support_schedule_name', 'support')) }}
    ),

    span_minutes as (
        select
            ticket_id,
            span,
            extract(epoch from ended_at - started_at) / 60.0 as calendar_minutes,
            business_minutes
        from span_business_minutes
    )

    select
        ticket_id,
        {%- for name in span_names %}
        (max(calendar_minutes) filter (where span = '{{ name }}'))::numeric(14, 4) as {{ name }}_calendar_minutes,
        (max(business_minutes) filter (where span = '{{ name }}'))::numeric(14, 4) as {{ name }}_business_minutes
        {{- ',' if not loop.last }}
        {%- endfor %}
    from span_minutes
    group by ticket_id
{%- endmacro %}
