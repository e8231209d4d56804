{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='ticket_id',
        on_schema_change='fail',
        pre_hook=["{{ log_support_tickets_recomputed() }}", "{{ delete_support_tickets_gone() }}"],
        post_hook="{{ record_incremental_state(support_as_of()) }}",
    )
}}
{#
    Incremental (macros/support_tickets_incremental.sql, support_ticket_facts_changed): a daily run recomputes
    the tickets something new touched, as the ticket models it reads do, and those whose row can change without
    a record of their own: a rating given, a target not yet judged while its clock runs, another customer from
    identity resolution. The marts the last publish retired are this run's build
    schema (macros/reuse_retired_marts.sql), so the rows it keeps are two runs old and the run looks at both
    runs' batches. A schema change fails (on_schema_change): a changed contract changes the fingerprint, and the
    hook drops the table for dbt to create it again.

    Length (266 lines, over the style's ~150): One model: the ticket fact joins many small per-ticket facts
    (measured times, SLA targets, ratings, product input, customer) that are each computed elsewhere; what is
    left here is the join and the SLA judgement, one column group per CTE.
#}
{%- set plan = support_ticket_plan() -%}
{%- set keys = incremental_keys(support_ticket_facts_changed(plan)) if plan.incremental else none -%}

with

as_of as (
    select {{ support_as_of() }} as as_of_at
),

tickets as (
    select
        ticket_id,
        organization_id,
        requester_id,
        priority,
        channel,
        ticket_type,
        tags,
        subject,
        is_known_status
    from {{ ref('stg_support__tickets') }}
    {%- if keys %}
    where ticket_id = any({{ keys }})
    {%- endif %}
),

measured as (
    select * from {{ ref('int_tickets_measured') }}
    {%- if keys %}
    where ticket_id = any({{ keys }})
    {%- endif %}
),

-- The identity lookups join on source_id as identity stores it (an id's text): PostgreSQL keeps statistics on
-- that column, none on a cast of it, and guessing 200 distinct ids on both sides of each lookup it estimated 5.7
-- billion rows for 125,000 tickets at 30,000 customers and hashed the wrong side (23 s for this model, 8 s with
-- another sample of the same data). Joined this way the estimate is the ticket count.
organization_customers as (
    select source_id as organization_source_id, customer_key
    from {{ ref('int_customer_identity') }}
    where source_system = 'support_organization' and customer_key is not null
),

requester_customers as (
    select source_id as requester_source_id, customer_key
    from {{ ref('int_customer_identity') }}
    where source_system = 'support_user' and customer_key is not null
),

sla_targets as (
    -- the target each ticket is measured against per metric: the policy Zendesk applied, else the policy version
    -- in force at the ticket's creation (see int_tickets_sla_targets and its sla_evidence)
    select ticket_id, metric, sla_policy_id, sla_policy_title, target_minutes, is_business_hours, sla_evidence
    from {{ ref('int_tickets_sla_targets') }}
    where target_minutes is not null
    {%- if keys %} and ticket_id = any({{ keys }}){% endif %}
),

ratings as (
    -- the latest good/bad answer given by the as-of moment; offered and unoffered are not ratings
    select distinct on (ratings.ticket_id)
        ratings.ticket_id,
        ratings.score as csat_rating
    from {{ ref('stg_support__satisfaction_ratings') }} as ratings
    inner join measured on ratings.ticket_id = measured.ticket_id
    cross join as_of
    where
        ratings.score in ('good', 'bad')
        and ratings.created_at <= as_of.as_of_at
    {%- if keys %} and ratings.ticket_id = any({{ keys }}){% endif %}
    order by ratings.ticket_id asc, ratings.created_at desc, ratings.satisfaction_rating_id desc
),

ticket_inputs as (
    -- the five classes of product input, by the rules in seeds/product_input_rules.csv (see voice marts)
    select source_id as ticket_source_id, input_class, product_area
    from {{ ref('int_customer_inputs_classified') }}
    where input_source = 'support_ticket'
    {%- if keys %} and source_id = any({{ keys }}::text []){% endif %}
),

joined as (
    select
        measured.ticket_id,
        measured.created_at,
        {{ local_month('measured.created_at') }} as month,
        coalesce(organization_customers.customer_key, requester_customers.customer_key) as customer_key,
        tickets.organization_id,
        tickets.requester_id,
        tickets.priority,
        tickets.channel,
        tickets.ticket_type,
        measured.status_at_as_of as ticket_status,
        -- kept, flagged: a status Zendesk does not document counts as unsolved (new/open/pending/hold/solved/closed)
        tickets.is_known_status
        and measured.status_at_as_of in ('new', 'open', 'pending', 'hold', 'solved', 'closed') as is_known_status,
        tickets.tags,
        tickets.subject,
        measured.first_reply_at,
        measured.first_solved_at,
        measured.last_solved_at,
        measured.is_solved,
        measured.reopened_count,
        measured.first_reply_calendar_minutes,
        measured.first_reply_business_minutes,
        measured.first_resolution_calendar_minutes,
        measured.first_resolution_business_minutes,
        measured.full_resolution_calendar_minutes,
        measured.full_resolution_business_minutes,
        coalesce(first_reply_target.sla_policy_id, resolution_target.sla_policy_id) as sla_policy_id,
        coalesce(first_reply_target.sla_policy_title, resolution_target.sla_policy_title) as sla_policy_title,
        coalesce(first_reply_target.sla_evidence, resolution_target.sla_evidence) as sla_evidence,
        first_reply_target.target_minutes as first_reply_target_minutes,
        first_reply_target.is_business_hours as first_reply_target_in_business_hours,
        resolution_target.target_minutes as resolution_target_minutes,
        resolution_target.is_business_hours as resolution_target_in_business_hours,
        measured.first_reply_sla_stopped_at,
        measured.resolution_sla_stopped_at,
        case
            when first_reply_target.is_business_hours then measured.first_reply_sla_business_minutes
            else measured.first_reply_sla_calendar_minutes
        end as first_reply_sla_elapsed_minutes,
        case
            when resolution_target.is_business_hours then measured.resolution_sla_business_minutes
            else measured.resolution_sla_calendar_minutes
        end as resolution_sla_elapsed_minutes,
        ratings.csat_rating,
        coalesce(ticket_inputs.input_class, 'unclassified') as input_class,
        ticket_inputs.product_area
    from measured
    inner join tickets on measured.ticket_id = tickets.ticket_id
    left join organization_customers on tickets.organization_id::text = organization_customers.organization_source_id
    left join requester_customers on tickets.requester_id::text = requester_customers.requester_source_id
    left join sla_targets as first_reply_target
        on measured.ticket_id = first_reply_target.ticket_id and first_reply_target.metric = 'first_reply_time'
    left join sla_targets as resolution_target
        on measured.ticket_id = resolution_target.ticket_id and resolution_target.metric = 'total_resolution_time'
    left join ratings on measured.ticket_id = ratings.ticket_id
    left join ticket_inputs on measured.ticket_id::text = ticket_inputs.ticket_source_id
),

judged as (
    select
        joined.*,
        case
            when joined.first_reply_target_minutes is null then null
            when joined.first_reply_sla_stopped_at is not null
                then joined.first_reply_sla_elapsed_minutes <= joined.first_reply_target_minutes
            -- still waiting for a reply at the as-of moment: breached once the target has passed
            when joined.first_reply_sla_elapsed_minutes >= joined.first_reply_target_minutes then false
        end as first_reply_sla_met,
        case
            when joined.resolution_target_minutes is null then null
            when joined.resolution_sla_stopped_at is not null
                then joined.resolution_sla_elapsed_minutes <= joined.resolution_target_minutes
            when joined.resolution_sla_elapsed_minutes >= joined.resolution_target_minutes then false
        end as resolution_sla_met
    from joined
),

final as (
    select
        ticket_id,
        created_at,
        month,
        customer_key,
        organization_id,
        requester_id,
        priority,
        channel,
        ticket_type,
        ticket_status,
        is_known_status,
        tags,
        subject,
        first_reply_at,
        first_solved_at,
        last_solved_at,
        is_solved,
        reopened_count::integer as reopened_count,
        round(first_reply_calendar_minutes, 2)::numeric(12, 2) as first_reply_calendar_minutes,
        round(first_reply_business_minutes, 2)::numeric(12, 2) as first_reply_business_minutes,
        round(first_resolution_calendar_minutes, 2)::numeric(12, 2) as first_resolution_calendar_minutes,
        round(first_resolution_business_minutes, 2)::numeric(12, 2) as first_resolution_business_minutes,
        round(full_resolution_calendar_minutes, 2)::numeric(12, 2) as full_resolution_calendar_minutes,
        round(full_resolution_business_minutes, 2)::numeric(12, 2) as full_resolution_business_minutes,
        sla_policy_id,
        sla_policy_title,
        sla_evidence,
        first_reply_target_minutes,
        first_reply_target_in_business_hours,
        resolution_target_minutes,
        resolution_target_in_business_hours,
        first_reply_sla_met,
        resolution_sla_met,
        csat_rating,
        input_class,
        product_area
    from judged
)

select
    ticket_id,
    created_at,
    month,
    customer_key,
    organization_id,
    requester_id,
    priority,
    channel,
    ticket_type,
    ticket_status,
    is_known_status,
    tags,
    subject,
    first_reply_at,
    first_solved_at,
    last_solved_at,
    is_solved,
    reopened_count,
    first_reply_calendar_minutes,
    first_reply_business_minutes,
    first_resolution_calendar_minutes,
    first_resolution_business_minutes,
    full_resolution_calendar_minutes,
    full_resolution_business_minutes,
    sla_policy_id,
    sla_policy_title,
    sla_evidence,
    first_reply_target_minutes,
    first_reply_target_in_business_hours,
    resolution_target_minutes,
    resolution_target_in_business_hours,
    first_reply_sla_met,
    resolution_sla_met,
    csat_rating,
    input_class,
    product_area
from final
-- Stored in month, created_at order: one month's tickets lie together on disk, in the order they were opened,
-- so a month's newest tickets read a few pages instead of the whole table (clustering: see the YAML); a daily
-- run appends its recomputed tickets in the same order, most of them of the latest months
order by month, created_at
