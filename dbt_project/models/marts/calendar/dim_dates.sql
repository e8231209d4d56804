{#
    One row per calendar day: the date dimension BI tools join on, and the time spine dbt's semantic layer
    needs to fill gaps in metric series. Days of the reporting time zone (macros/reporting_calendar.sql), with the
    UTC instants each begins and ends at.
#}
with

days as (
    select generate_series('2015-01-01'::date, '2035-12-31'::date, interval '1 day')::date as date_day
),

final as (
    select
        date_day,
        date_trunc('week', date_day)::date as week_start,
        date_trunc('month', date_day)::date as month,
        date_trunc('quarter', date_day)::date as quarter,
        extract(year from date_day)::integer as year,
        extract(isodow from date_day)::integer as iso_day_of_week,
        extract(isodow from date_day) < 6 as is_weekday,
        {{ local_day_start('date_day') }} as day_starts_at,
        {{ local_day_start('date_day + 1') }} as day_ends_at
    from days
)

select
    date_day,
    week_start,
    month,
    quarter,
    year,
    iso_day_of_week,
    is_weekday,
    day_starts_at,
    day_ends_at
from final
