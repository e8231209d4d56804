{#
    The support schedule (seed support_business_hours: weekly intervals in local time) laid out on the
    calendar as dated open intervals in UTC, from the day before the first ticket to a week after the export's
    as-of moment (or the latest ticket update, if later), so that any span between two ticket events can be
    intersected with it. Local times are converted with the schedule's timezone, daylight saving included.
    Holidays are not modelled.
#}
with

schedule as (
    select schedule_name, day_of_week, start_time, end_time, timezone
    from {{ ref('support_business_hours') }}
),

ticket_range as (
    select
        min(created_at)::date - 1 as first_day,
        greatest(max(updated_at), max(created_at), {{ support_as_of() }})::date + 7 as last_day
    from {{ ref('stg_support__tickets') }}
),

calendar_days as (
    select generate_series(first_day, last_day, interval '1 day')::date as calendar_day
    from ticket_range
),

open_intervals as (
    select
        schedule.schedule_name,
        calendar_days.calendar_day as local_day,
        ((calendar_days.calendar_day + schedule.start_time) at time zone schedule.timezone) at time zone 'UTC'
            as interval_start_at,
        ((calendar_days.calendar_day + schedule.end_time) at time zone schedule.timezone) at time zone 'UTC'
            as interval_end_at
    from calendar_days
    inner join schedule
        on extract(isodow from calendar_days.calendar_day) = schedule.day_of_week
)

select
    schedule_name,
    local_day,
    interval_start_at,
    interval_end_at,
    (extract(epoch from interval_end_at - interval_start_at) / 60)::integer as interval_minutes
from open_intervals
