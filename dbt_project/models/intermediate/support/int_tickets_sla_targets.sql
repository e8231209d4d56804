{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['ticket_id', 'metric'], 'unique': True}],
        unique_key='ticket_id',
        on_schema_change='sync_all_columns',
        pre_hook=["{{ hash_joins_only() }}", "{{ delete_support_tickets_gone() }}"],
        post_hook="{{ record_incremental_state(support_as_of()) }}",
    )
}}
{#
    The SLA target each ticket is measured against, per metric (first_reply_time, total_resolution_time), and the
    evidence for it (sla_evidence):
    - applied: Zendesk's own record, the ticket's latest apply_sla metric event by the as-of moment (Zendesk writes
      one when it applies a policy, and again when the policy or target on the ticket changes). reply_time
      instance 1 is the first reply; resolution_time the total resolution.
    - policy_in_force / current_priority, when no apply_sla event was exported: Zendesk applies a policy when the
      ticket is created, re-applies one when the ticket's priority changes, and does not re-apply an updated
      policy to tickets already using it. So the policies in force when the deciding priority was set (creation,
      or the last priority change before the metric's clock stopped) decide: the first by position whose
      conditions the ticket meets applies, with its target for that priority (none when it has none). The
      priority comes from the ticket's priority history (policy_in_force), or, without any exported priority
      change, is the ticket's current priority (current_priority).
    Policy versions: every export of the policies loaded; a version is in force from its updated_at (the first
    version known of a policy from the policy's created_at, or from the beginning when that is unknown) until
    the policy's next version. Conditions on priority, tags, organization and type are evaluated; a condition on
    any other field is unknown and the policy is passed over.

    Incremental (macros/support_tickets_incremental.sql): a daily run recomputes the tickets something new
    touched, and those with an event dated after the last run's as-of moment. A ticket whose SLA clock still
    runs is not recomputed for that alone: the new as-of moment changes its deciding priority only through a
    priority change dated after the old one, which touches it.

    Length (414 lines, over the style's ~150): One model: Zendesk's rule (the policy in force when the SLA was
    applied, its version's conditions on the ticket as it was then, the first matching policy by position) only
    holds as a whole, and the incremental plan recomputes exactly the touched tickets through every step of it.
    The CTEs run in order: applications, clocks and priorities, policy versions and conditions, matching,
    result.
#}
{%- set plan = support_ticket_plan() -%}
{%- set touched = incremental_keys(support_tickets_touched(plan)) if plan.incremental else none -%}

with

as_of as (
    select {{ support_as_of() }} as as_of_at
),

tickets as (
    select
        tickets.ticket_id,
        tickets.created_at,
        tickets.priority,
        tickets.tags,
        tickets.organization_id,
        tickets.ticket_type
    from {{ ref('stg_support__tickets') }} as tickets
    cross join as_of
    where
        tickets.created_at <= as_of.as_of_at
        and not tickets.is_deleted
    {%- if touched %} and tickets.ticket_id = any({{ touched }}){% endif %}
),

sla_metrics as (
    select 'first_reply_time' as metric
    union all
    select 'total_resolution_time'
),

apply_sla_events as (
    select
        events.ticket_id,
        case events.metric
            when 'reply_time' then 'first_reply_time'
            when 'resolution_time' then 'total_resolution_time'
        end as metric,
        events.event_at,
        events.metric_event_id,
        events.sla_policy_id,
        events.sla_policy_title,
        events.sla_target_minutes,
        events.sla_is_business_hours
    from {{ ref('stg_support__ticket_metric_events') }} as events
    cross join as_of
    where
        events.event_type = 'apply_sla'
        and (
            events.metric = 'resolution_time'
            or (events.metric = 'reply_time' and coalesce(events.instance_id, 1) = 1)
        )
        and events.sla_target_minutes is not null
        and events.event_at <= as_of.as_of_at
    {%- if touched %} and events.ticket_id = any({{ touched }}){% endif %}
),

applied as (
    -- the latest application is the one in force
    select distinct on (ticket_id, metric)
        ticket_id,
        metric,
        sla_policy_id,
        sla_policy_title,
        sla_target_minutes as target_minutes,
        coalesce(sla_is_business_hours, false) as is_business_hours
    from apply_sla_events
    order by ticket_id asc, metric asc, event_at desc, metric_event_id desc
),

priority_changes as (
    select ticket_id, new_value, previous_value, changed_at, field_change_id
    from {{ ref('stg_support__ticket_field_history') }}
    where field_name = 'priority'
    {%- if touched %} and ticket_id = any({{ touched }}){% endif %}
),

clock_stops as (
    -- the moment each SLA clock stopped, or the as-of moment while it runs
    select
        measured.ticket_id,
        'first_reply_time' as metric,
        coalesce(measured.first_reply_sla_stopped_at, as_of.as_of_at) as stopped_at
    from {{ ref('int_tickets_measured') }} as measured
    cross join as_of
    {%- if touched %}
    where measured.ticket_id = any({{ touched }})
    {%- endif %}
    union all
    select
        measured.ticket_id,
        'total_resolution_time' as metric,
        coalesce(measured.resolution_sla_stopped_at, as_of.as_of_at) as stopped_at
    from {{ ref('int_tickets_measured') }} as measured
    cross join as_of
    {%- if touched %}
    where measured.ticket_id = any({{ touched }})
    {%- endif %}
),

ticket_clocks as (
    -- only the metrics whose policy Zendesk's own record does not name: the policies in force decide nothing
    -- else in final (matching every ticket's metrics against every policy version was 7.3 million candidate
    -- rows at 100,000 customers, for the 7% of metrics without an apply_sla event)
    select
        tickets.ticket_id,
        clock_stops.metric,
        tickets.created_at,
        tickets.priority,
        tickets.tags,
        tickets.organization_id,
        tickets.ticket_type,
        -- a change up to this moment can decide the metric's policy
        greatest(clock_stops.stopped_at, tickets.created_at) as decided_by
    from tickets
    inner join clock_stops on tickets.ticket_id = clock_stops.ticket_id
    where not exists (
        select from applied
        where
            applied.ticket_id = clock_stops.ticket_id
            and applied.metric = clock_stops.metric
            and applied.sla_policy_id is not null
    )
),

priorities_set_before as (
    -- the last priority change up to the moment the metric's clock stopped (or the ticket's creation, if later)
    select distinct on (ticket_clocks.ticket_id, ticket_clocks.metric)
        ticket_clocks.ticket_id,
        ticket_clocks.metric,
        priority_changes.new_value,
        priority_changes.changed_at
    from ticket_clocks
    inner join priority_changes
        on
            ticket_clocks.ticket_id = priority_changes.ticket_id
            and ticket_clocks.decided_by >= priority_changes.changed_at
    order by
        ticket_clocks.ticket_id asc,
        ticket_clocks.metric asc,
        priority_changes.changed_at desc,
        priority_changes.field_change_id desc
),

first_priority_changes as (
    -- the ticket's first priority change: what it replaced is the priority at creation
    select distinct on (ticket_id) ticket_id, previous_value
    from priority_changes
    order by ticket_id, changed_at, field_change_id
),

ticket_metrics as (
    -- Zendesk applies a policy at creation and re-applies one when the priority changes: the priority that
    -- decides a metric is the last one set before its clock stopped, applied when it was set (at the earliest at
    -- creation). Without a change by then, the priority at creation: what the first later change replaced, or,
    -- with no priority history at all, the ticket's current priority.
    select
        ticket_clocks.ticket_id,
        ticket_clocks.metric,
        ticket_clocks.tags,
        ticket_clocks.organization_id,
        ticket_clocks.ticket_type,
        changed_after.ticket_id is not null as has_priority_history,
        case
            when set_before.ticket_id is not null then greatest(set_before.changed_at, ticket_clocks.created_at)
            else ticket_clocks.created_at
        end as applied_at,
        case
            when set_before.ticket_id is not null then set_before.new_value
            when changed_after.ticket_id is not null then changed_after.previous_value
            else ticket_clocks.priority
        end as applied_priority
    from ticket_clocks
    left join priorities_set_before as set_before
        on ticket_clocks.ticket_id = set_before.ticket_id and ticket_clocks.metric = set_before.metric
    left join first_priority_changes as changed_after
        on ticket_clocks.ticket_id = changed_after.ticket_id
),

policy_versions as (
    select distinct sla_policy_id, policy_updated_at, policy_created_at, policy_title, policy_position, policy_filter
    from {{ ref('stg_support__sla_policy_versions') }}
),

versions_dated as materialized (
    select
        *,
        -- a name for the version row within this query, to look its conditions up by
        row_number() over (order by sla_policy_id, policy_updated_at, policy_created_at, policy_title, policy_position)
            as version_key,
        case
            when row_number() over policy_history = 1 then policy_created_at else policy_updated_at
        end as valid_from,
        lead(policy_updated_at) over policy_history as valid_to
    from policy_versions
    window policy_history as (partition by sla_policy_id order by policy_updated_at nulls first)
),

version_conditions as materialized (
    -- each policy version's conditions, read from its JSON once (they were read again for every ticket the
    -- version was a candidate for: 5.8 million times at 39,000 customers)
    select
        versions_dated.version_key,
        condition_list.kind,
        lower(condition.value ->> 'field') as field,
        lower(condition.value ->> 'operator') as operator,
        condition.value ->> 'value' as value_as_exported,
        lower(trim(condition.value ->> 'value')) as value_normalised,
        string_to_array(lower(trim(condition.value ->> 'value')), ' ') as value_tags
    from versions_dated
    cross join lateral (values ('all'), ('any')) as condition_list (kind)
    cross join lateral jsonb_array_elements(
        case
            when jsonb_typeof(versions_dated.policy_filter -> condition_list.kind) = 'array'
                then versions_dated.policy_filter -> condition_list.kind
            else '[]'::jsonb
        end
    ) as condition (value)
),

candidates as (
    -- every policy version in force when the policy was applied, with the ticket its conditions look at (no
    -- second pass over ticket_metrics to find it again)
    select
        ticket_metrics.ticket_id,
        ticket_metrics.metric,
        ticket_metrics.applied_priority,
        ticket_metrics.tags,
        ticket_metrics.organization_id,
        ticket_metrics.ticket_type,
        versions_dated.version_key,
        versions_dated.sla_policy_id,
        versions_dated.policy_updated_at,
        versions_dated.policy_title,
        versions_dated.policy_position
    from ticket_metrics
    inner join versions_dated
        on
            (versions_dated.valid_from is null or ticket_metrics.applied_at >= versions_dated.valid_from)
            and (versions_dated.valid_to is null or ticket_metrics.applied_at < versions_dated.valid_to)
),

conditions as (
    select
        candidates.ticket_id,
        candidates.metric,
        candidates.sla_policy_id,
        version_conditions.kind,
        case version_conditions.field
            when 'priority'
                then
                    case version_conditions.operator
                        when 'is' then candidates.applied_priority = version_conditions.value_normalised
                        when 'is_not'
                            then (candidates.applied_priority is distinct from version_conditions.value_normalised)
                    end
            when 'current_tags'
                then
                    case version_conditions.operator
                        when 'includes' then coalesce(candidates.tags && version_conditions.value_tags, false)
                        when 'not_includes' then not coalesce(candidates.tags && version_conditions.value_tags, false)
                    end
            when 'organization_id'
                then
                    case version_conditions.operator
                        when 'is' then candidates.organization_id::text = version_conditions.value_as_exported
                        when 'is_not'
                            then (
                                candidates.organization_id::text is distinct from version_conditions.value_as_exported
                            )
                    end
            when 'type' then
                case version_conditions.operator
                    when 'is' then candidates.ticket_type = version_conditions.value_normalised
                    when 'is_not'
                        then (candidates.ticket_type is distinct from version_conditions.value_normalised)
                end
        end as holds
    from candidates
    inner join version_conditions on candidates.version_key = version_conditions.version_key
),

policy_conditions_held as (
    -- Zendesk: every "all" condition holds and, when there are "any" conditions, one of them does; an unknown
    -- condition (a field tealeaves cannot see) does not count as holding. Over the conditions of every version
    -- of the policy in force for the ticket's metric (one, but for a policy exported twice at one updated_at).
    select
        ticket_id,
        metric,
        sla_policy_id,
        coalesce(bool_and(coalesce(holds, false)) filter (where kind = 'all'), true)
        and coalesce(bool_or(coalesce(holds, false)) filter (where kind = 'any'), true)
            as is_match
    from conditions
    group by ticket_id, metric, sla_policy_id
),

policy_matches as (
    -- a policy without conditions matches
    select
        candidates.ticket_id,
        candidates.metric,
        candidates.sla_policy_id,
        candidates.policy_updated_at,
        candidates.policy_title,
        candidates.policy_position,
        coalesce(policy_conditions_held.is_match, true) as is_match
    from candidates
    left join policy_conditions_held
        on
            candidates.ticket_id = policy_conditions_held.ticket_id
            and candidates.metric = policy_conditions_held.metric
            and candidates.sla_policy_id = policy_conditions_held.sla_policy_id
),

first_matches as (
    -- the first matching policy by position applies (ties by id)
    select distinct on (ticket_id, metric)
        ticket_id,
        metric,
        sla_policy_id,
        policy_updated_at,
        policy_title
    from policy_matches
    where is_match
    order by ticket_id, metric, policy_position nulls last, sla_policy_id
),

in_force as (
    select
        ticket_metrics.ticket_id,
        ticket_metrics.metric,
        first_matches.sla_policy_id,
        first_matches.policy_title as sla_policy_title,
        version_targets.target_minutes,
        version_targets.is_business_hours,
        case when ticket_metrics.has_priority_history then 'policy_in_force' else 'current_priority' end
            as sla_evidence
    from ticket_metrics
    inner join first_matches
        on ticket_metrics.ticket_id = first_matches.ticket_id and ticket_metrics.metric = first_matches.metric
    inner join {{ ref('stg_support__sla_policy_versions') }} as version_targets
        on
            first_matches.sla_policy_id = version_targets.sla_policy_id
            and first_matches.policy_updated_at is not distinct from version_targets.policy_updated_at
            and ticket_metrics.applied_priority = version_targets.priority
            and ticket_metrics.metric = version_targets.metric
),

final as (
    select
        tickets.ticket_id,
        sla_metrics.metric,
        coalesce(applied.sla_policy_id, in_force.sla_policy_id) as sla_policy_id,
        case when applied.ticket_id is not null then applied.sla_policy_title else in_force.sla_policy_title end
            as sla_policy_title,
        coalesce(applied.target_minutes, in_force.target_minutes) as target_minutes,
        case when applied.ticket_id is not null then applied.is_business_hours else in_force.is_business_hours end
            as is_business_hours,
        case when applied.ticket_id is not null then 'applied' else in_force.sla_evidence end as sla_evidence
    from tickets
    cross join sla_metrics
    left join applied on tickets.ticket_id = applied.ticket_id and sla_metrics.metric = applied.metric
    left join in_force on tickets.ticket_id = in_force.ticket_id and sla_metrics.metric = in_force.metric
)

select
    ticket_id,
    metric,
    sla_policy_id,
    sla_policy_title,
    target_minutes,
    is_business_hours,
    sla_evidence
from final
