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

backlog_changes as (
    -- A month's backlog is counted at its end, or at the as-of moment for a month that has not ended. An unsolved
    -- status is in it when the count instant lies in the status (after valid_from, at or before valid_to): it
    -- enters the backlog of every month counted after it began (+1) and leaves that of every month counted after
    -- it ended (-1), so a month's backlog is the sum of the changes up to its count. A change first counts in its
    -- own local month (that month is counted after it: at the month's end, or at the as-of moment, later still);
    -- one at or after the as-of moment counts in none. A status that began and ended in one month before the
    -- as-of moment changes no count; most do (at 100,000 customers, 157,021 of 1.5 million unsolved statuses
    -- reach another month's count), and are left out before they meet the tickets. Summing changes, not matching
    -- each status with every month it spans (628,475 status months there, sorted and merged with the months),
    -- keeps the work to two rows per status whatever the history's length.
    select
        {{ local_month('changes.changed_at') }} as month,
        tickets.priority,
        tickets.channel,
        sum(changes.change) as change
    from statuses
    cross join as_of
    cross join
        lateral (values (statuses.valid_from, 1), (statuses.valid_to, -1)) as changes (changed_at, change)
    inner join tickets on statuses.ticket_id = tickets.ticket_id
    where
        not statuses.is_solved_status
        -- a status that ends before it begins is counted in no month
        and (statuses.valid_to is null or statuses.valid_from <= statuses.valid_to)
        and not coalesce(
            statuses.valid_to < as_of.as_of_at
            and {{ local_month('statuses.valid_to') }} = {{ local_month('statuses.valid_from') }},
            false
        )
        and changes.changed_at < as_of.as_of_at
    group by
        {{ local_month('changes.changed_at') }},
        tickets.priority,
        tickets.channel
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

backlog_at_month_end as (
    -- every change up to the month's own, those of months before the first one included
    select
        grid.month,
        grid.priority,
        grid.channel,
        coalesce(sum(backlog_changes.change), 0) as backlog
    from grid
    left join backlog_changes
        on
            grid.priority = backlog_changes.priority
            and grid.channel = backlog_changes.channel
            and grid.month >= backlog_changes.month
    group by grid.month, grid.priority, grid.channel
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
