{#
    Length (230 lines, over the style's ~150): One model: created, solved and backlog counts share the month ×
    priority × channel grid they are zero-filled on; each count is one CTE.
#}
with

tickets as not materialized (
    select
        ticket_id,
        month,
        coalesce(priority, 'none') as priority,
        coalesce(channel, 'unknown') as channel,
        is_solved,
        last_solved_at,
        first_reply_business_minutes,
        first_reply_calendar_minutes,
        full_resolution_business_minutes,
        full_resolution_calendar_minutes,
        first_reply_sla_met,
        resolution_sla_met,
        csat_rating
    from {{ ref('fct_support_tickets') }}
),

statuses as (
    select ticket_id, valid_from, valid_to, is_solved_status
    from {{ ref('int_ticket_statuses_dated') }}
),

as_of as (
    select {{ support_as_of() }} as as_of_at
),

created_in_month as (
    select
        month,
        priority,
        channel,
        count(*) as tickets_created,
        -- each pair from one sort of the measure, not one sort per fraction
        percentile_cont(array[0.5, 0.9]) within group (order by first_reply_business_minutes)
            as first_reply_business_percentiles,
        percentile_cont(array[0.5, 0.9]) within group (order by first_reply_calendar_minutes)
            as first_reply_calendar_percentiles,
        percentile_cont(array[0.5, 0.9]) within group (order by full_resolution_business_minutes)
            as resolution_business_percentiles,
        percentile_cont(array[0.5, 0.9]) within group (order by full_resolution_calendar_minutes)
            as resolution_calendar_percentiles,
        count(first_reply_sla_met) as first_reply_sla_measured,
        count(*) filter (where first_reply_sla_met) as first_reply_sla_met,
        count(resolution_sla_met) as resolution_sla_measured,
        count(*) filter (where resolution_sla_met) as resolution_sla_met,
        count(csat_rating) as csat_ratings,
        count(*) filter (where csat_rating = 'good') as csat_good_ratings
    from tickets
    group by month, priority, channel
),

solved_in_month as (
    select
        {{ local_month('last_solved_at') }} as month,
        priority,
        channel,
        count(*) as tickets_solved
    from tickets
    -- a ticket solved or closed without a recorded solve has no solve month
    where is_solved and last_solved_at is not null
    group by {{ local_month('last_solved_at') }}, priority, channel
),

months as (
    {{ month_spine('select month from created_in_month union all select month from solved_in_month') }}
),

month_ends as (
    -- the backlog is counted at the month's end, or at the as-of moment for a month that has not ended
    select
        months.month,
        least({{ local_day_start("months.month + interval '1 month'") }}, as_of.as_of_at) as counted_at
    from months
    cross join as_of
),

unsolved_status_months as (
    -- An unsolved status counts in the backlog of each month whose count instant lies in it (after valid_from, at
    -- or before valid_to). Only the months from the one valid_from falls in can: an earlier month is counted at or
    -- before that month's start. A status that ended before the as-of moment can reach no later than the month
    -- before the one valid_to falls in (that month is counted after valid_to: at its end, or at the as-of moment,
    -- later still); one still running reaches the last month. Most statuses end in the month they began and
    -- match no month (at 100,000 customers: 617,446 status months of 1.5 million statuses, against 2.1 million
    -- rows generated up to valid_to's own month). So each status is matched to its own months,
    -- one row each, not compared with every month (months × statuses: 38 million comparisons at 100,000 customers
    -- and 24 months, more with every month of history). A set-returning function in the select list, not a lateral
    -- join, so no per-row subplan runs.
    select
        statuses.ticket_id,
        statuses.valid_from,
        statuses.valid_to,
        generate_series(
            {{ local_month('statuses.valid_from') }}::timestamp,
            case
                when statuses.valid_to is null or statuses.valid_to >= as_of.as_of_at
                    then (select max(months.month) from months)
                else {{ local_month('statuses.valid_to') }} - interval '1 month'
            end::timestamp,
            interval '1 month'
        )::date as month
    from statuses
    cross join as_of
    where not statuses.is_solved_status
),

backlog_at_month_end as (
    select
        month_ends.month,
        tickets.priority,
        tickets.channel,
        count(*) as backlog
    from month_ends
    inner join unsolved_status_months
        on
            month_ends.month = unsolved_status_months.month
            and month_ends.counted_at > unsolved_status_months.valid_from
            and (unsolved_status_months.valid_to is null or month_ends.counted_at <= unsolved_status_months.valid_to)
    inner join tickets on unsolved_status_months.ticket_id = tickets.ticket_id
    group by month_ends.month, tickets.priority, tickets.channel
),

priorities as (
    -- every ticket is in a created month, so its priority and channel are among those groups'
    select distinct priority from created_in_month
),

channels as (
    select distinct channel from created_in_month
),

grid as (
    select months.month, priorities.priority, channels.channel
    from months
    cross join priorities
    cross join channels
),

final as (
    select
        grid.month,
        grid.priority,
        grid.channel,
        coalesce(created_in_month.tickets_created, 0)::integer as tickets_created,
        coalesce(solved_in_month.tickets_solved, 0)::integer as tickets_solved,
        coalesce(backlog_at_month_end.backlog, 0)::integer as backlog_at_month_end,
        round(created_in_month.first_reply_business_percentiles[1]::numeric, 2)::numeric(12, 2)
            as first_reply_median_business_minutes,
        round(created_in_month.first_reply_business_percentiles[2]::numeric, 2)::numeric(12, 2)
            as first_reply_p90_business_minutes,
        round(created_in_month.first_reply_calendar_percentiles[1]::numeric, 2)::numeric(12, 2)
            as first_reply_median_calendar_minutes,
        round(created_in_month.first_reply_calendar_percentiles[2]::numeric, 2)::numeric(12, 2)
            as first_reply_p90_calendar_minutes,
        round(created_in_month.resolution_business_percentiles[1]::numeric, 2)::numeric(12, 2)
            as full_resolution_median_business_minutes,
        round(created_in_month.resolution_business_percentiles[2]::numeric, 2)::numeric(12, 2)
            as full_resolution_p90_business_minutes,
        round(created_in_month.resolution_calendar_percentiles[1]::numeric, 2)::numeric(12, 2)
            as full_resolution_median_calendar_minutes,
        round(created_in_month.resolution_calendar_percentiles[2]::numeric, 2)::numeric(12, 2)
            as full_resolution_p90_calendar_minutes,
        coalesce(created_in_month.first_reply_sla_measured, 0)::integer as first_reply_sla_measured,
        coalesce(created_in_month.first_reply_sla_met, 0)::integer as first_reply_sla_met,
        round(
            created_in_month.first_reply_sla_met::numeric
            / nullif(created_in_month.first_reply_sla_measured, 0), 4
        )::numeric(5, 4) as first_reply_sla_attainment,
        coalesce(created_in_month.resolution_sla_measured, 0)::integer as resolution_sla_measured,
        coalesce(created_in_month.resolution_sla_met, 0)::integer as resolution_sla_met,
        round(
            created_in_month.resolution_sla_met::numeric
            / nullif(created_in_month.resolution_sla_measured, 0), 4
        )::numeric(5, 4) as resolution_sla_attainment,
        coalesce(created_in_month.csat_ratings, 0)::integer as csat_ratings,
        coalesce(created_in_month.csat_good_ratings, 0)::integer as csat_good_ratings,
        round(created_in_month.csat_good_ratings::numeric / nullif(created_in_month.csat_ratings, 0), 4)::numeric(5, 4)
            as csat,
        as_of.as_of_at as measured_as_of
    from grid
    cross join as_of
    left join created_in_month
        on
            grid.month = created_in_month.month
            and grid.priority = created_in_month.priority
            and grid.channel = created_in_month.channel
    left join solved_in_month
        on
            grid.month = solved_in_month.month
            and grid.priority = solved_in_month.priority
            and grid.channel = solved_in_month.channel
    left join backlog_at_month_end
        on
            grid.month = backlog_at_month_end.month
            and grid.priority = backlog_at_month_end.priority
            and grid.channel = backlog_at_month_end.channel
)

select
    month,
    priority,
    channel,
    tickets_created,
    tickets_solved,
    backlog_at_month_end,
    first_reply_median_business_minutes,
    first_reply_p90_business_minutes,
    first_reply_median_calendar_minutes,
    first_reply_p90_calendar_minutes,
    full_resolution_median_business_minutes,
    full_resolution_p90_business_minutes,
    full_resolution_median_calendar_minutes,
    full_resolution_p90_calendar_minutes,
    first_reply_sla_measured,
    first_reply_sla_met,
    first_reply_sla_attainment,
    resolution_sla_measured,
    resolution_sla_met,
    resolution_sla_attainment,
    csat_ratings,
    csat_good_ratings,
    csat,
    measured_as_of
from final
