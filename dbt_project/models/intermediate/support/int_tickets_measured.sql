{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['ticket_id'], 'unique': True}],
        unique_key='ticket_id',
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_support_tickets_gone() }}",
        post_hook=[
            "{{ move_running_sla_clocks() }}",
            "{{ record_incremental_state(support_as_of()) }}",
        ],
    )
}}
{#
    Zendesk's ticket metrics, recomputed from comments and status changes up to the export's as-of moment:
    first reply (first public comment by an agent; for a ticket an agent opened with a public comment, the
    agent's next public comment after that opening one), first and last solve, and the spans between creation
    and each, in calendar minutes and in business minutes of the support schedule. Also
    the SLA clocks: the first-reply clock stops at the first reply or, failing that, at the first solve (solving
    fulfils the first-reply target); the resolution clock stops when the ticket is solved at the as-of moment; a
    clock that has not stopped runs to the as-of moment. A ticket solved or closed without any recorded change
    to solved has no solve moment: its resolution times are null (unknown, as in Zendesk) and the clocks it
    would have stopped are null too, never run on to the as-of moment. Deleted tickets are left out.

    Incremental (macros/support_tickets_incremental.sql): a daily run recomputes the tickets something new
    touched or that have an event dated after the last run's as-of moment; on the other tickets whose SLA clock
    still runs, the post-hook moves the clock to the new as-of moment (move_running_sla_clocks).

    Length (199 lines, over the style's ~150): One model: each span (first reply, resolutions, SLA clocks) is
    measured in business and calendar minutes on the ticket's own row (macros/business_minutes.sql); splitting the
    spans from their measurement would store a row per ticket and span for nothing.
#}
{%- set plan = support_ticket_plan() -%}
{%- set touched = incremental_keys(support_tickets_touched(plan)) if plan.incremental else none -%}

with

as_of as (
    select {{ support_as_of() }} as as_of_at
),

agents as (
    select user_id from {{ ref('stg_support__users') }}
    where is_agent
),

tickets as (
    select
        tickets.ticket_id,
        tickets.created_at,
        coalesce(tickets.submitter_id in (select agents.user_id from agents), false) as is_opened_by_agent,
        as_of.as_of_at
    from {{ ref('stg_support__tickets') }} as tickets
    cross join as_of
    where
        tickets.created_at <= as_of.as_of_at
        and not tickets.is_deleted
    {%- if touched %} and tickets.ticket_id = any({{ touched }}){% endif %}
),

comments as (
    select
        comments.ticket_id,
        comments.comment_id,
        comments.created_at,
        comments.is_public,
        agents.user_id is not null as is_by_agent,
        tickets.is_opened_by_agent,
        row_number() over (
            partition by comments.ticket_id order by comments.created_at, comments.comment_id
        ) as comment_sequence
    from {{ ref('stg_support__ticket_comments') }} as comments
    inner join tickets on comments.ticket_id = tickets.ticket_id
    left join agents on comments.author_id = agents.user_id
    where comments.created_at <= tickets.as_of_at
    {%- if touched %} and comments.ticket_id = any({{ touched }}){% endif %}
),

first_replies as (
    -- Zendesk: when an agent creates the ticket and its first comment is public, first reply time runs to the
    -- agent's next public comment. The opening comment is the ticket's first comment in time (ties by id), not
    -- one stamped at exactly the ticket's created_at: exports date the two apart by a second or more. (Read off
    -- each comment's own row: joining the opening comments back to their tickets was a nested loop over both,
    -- 54 million comparisons for 7,386 agent-opened tickets at 100,000 customers.)
    select
        ticket_id,
        min(created_at) as first_reply_at
    from comments
    where
        is_public
        and is_by_agent
        and not (is_opened_by_agent and comment_sequence = 1)
    group by ticket_id
),

status_summary as (
    select
        ticket_id,
        min(valid_from) filter (where is_solve) as first_solved_at,
        max(valid_from) filter (where is_solve) as last_solved_at,
        count(*) filter (where is_reopen) as reopened_count,
        max(status) filter (where valid_to is null) as status_at_as_of,
        bool_or(is_solved_status and valid_to is null and not is_recorded_change) as is_solve_unrecorded
    from {{ ref('int_ticket_statuses_dated') }}
    {%- if touched %}
    where ticket_id = any({{ touched }})
    {%- endif %}
    group by ticket_id
),

timed as (
    select
        tickets.ticket_id,
        tickets.created_at,
        tickets.as_of_at,
        -- events before the ticket's creation (clock skew) count as at its creation
        -- (greatest() ignores nulls in PostgreSQL, hence the case: no event stays null)
        case
            when first_replies.first_reply_at is not null
                then greatest(first_replies.first_reply_at, tickets.created_at)
        end as first_reply_at,
        case
            when status_summary.first_solved_at is not null
                then greatest(status_summary.first_solved_at, tickets.created_at)
        end as first_solved_at,
        case
            when status_summary.last_solved_at is not null
                then greatest(status_summary.last_solved_at, tickets.created_at)
        end as last_solved_at,
        coalesce(status_summary.status_at_as_of, 'new') as status_at_as_of,
        coalesce(status_summary.status_at_as_of in ('solved', 'closed'), false) as is_solved,
        coalesce(status_summary.reopened_count, 0) as reopened_count,
        coalesce(status_summary.is_solve_unrecorded, false) as is_solve_unrecorded
    from tickets
    left join first_replies on tickets.ticket_id = first_replies.ticket_id
    left join status_summary on tickets.ticket_id = status_summary.ticket_id
),

clocks as (
    select
        timed.*,
        case when timed.is_solved then timed.last_solved_at end as full_resolution_at,
        least(timed.first_reply_at, timed.first_solved_at) as first_reply_sla_stopped_at,
        case when timed.is_solved then timed.last_solved_at end as resolution_sla_stopped_at,
        -- solved at an unknown moment: a clock the solve would have stopped has no known stop, so no elapsed time
        timed.is_solve_unrecorded and timed.first_reply_at is null as is_first_reply_sla_unknown,
        timed.is_solve_unrecorded as is_resolution_sla_unknown
    from timed
),

span_ends as (
    -- Every span starts at the ticket's creation. A clock that has not stopped runs to the as-of moment; one
    -- with no known stop (is_*_sla_unknown) has no end.
    select
        *,
        case when not is_first_reply_sla_unknown then coalesce(first_reply_sla_stopped_at, as_of_at) end
            as first_reply_sla_ended_at,
        case when not is_resolution_sla_unknown then coalesce(resolution_sla_stopped_at, as_of_at) end
            as resolution_sla_ended_at
    from clocks
),

schedule as (
    {{ business_schedule() }}
),

opened as (
    -- the schedule's open time before each span's bounds (<moment>_open, for span_minutes), once per moment
    select
        span_ends.*,
        {{ open_microseconds('schedule', 'created_at') | indent(8) }} as created_at_open,
        {{ open_microseconds('schedule', 'first_reply_at') | indent(8) }} as first_reply_at_open,
        {{ open_microseconds('schedule', 'first_solved_at') | indent(8) }} as first_solved_at_open,
        {{ open_microseconds('schedule', 'full_resolution_at') | indent(8) }} as full_resolution_at_open,
        {{ open_microseconds('schedule', 'first_reply_sla_ended_at') | indent(8) }} as first_reply_sla_ended_at_open,
        {{ open_microseconds('schedule', 'resolution_sla_ended_at') | indent(8) }} as resolution_sla_ended_at_open
    from span_ends
    cross join schedule
)

select
    ticket_id,
    created_at,
    first_reply_at,
    first_solved_at,
    last_solved_at,
    full_resolution_at,
    status_at_as_of,
    is_solved,
    reopened_count,
    is_solve_unrecorded,
    first_reply_sla_stopped_at,
    resolution_sla_stopped_at,
    {{ span_minutes('first_reply', 'created_at', 'first_reply_at') | indent(4) }},
    {{ span_minutes('first_resolution', 'created_at', 'first_solved_at') | indent(4) }},
    {{ span_minutes('full_resolution', 'created_at', 'full_resolution_at') | indent(4) }},
    {{ span_minutes('first_reply_sla', 'created_at', 'first_reply_sla_ended_at') | indent(4) }},
    {{ span_minutes('resolution_sla', 'created_at', 'resolution_sla_ended_at') | indent(4) }}
from opened
