{#
    The ticket-keyed support models (int_ticket_statuses_dated, int_tickets_measured, int_tickets_sla_targets)
    rebuild, on a daily run, only the tickets something new touched (macros/incremental_by_key.sql says how).

    A ticket is touched by a new or re-exported ticket record, comment, field change or metric event; by a
    batch of any of them that the raw gate failed; and by an event dated after the as-of moment the model last
    measured to (loaded then, but not yet counted: an event after the build's clock, or a priority change or
    metric event exported with the day but dated after its latest update, comment and status change, which
    make the as-of moment). The three models record that moment as their horizon, so they share one touched
    query per run.

    A ticket is not touched for being open. The models read the as-of moment only through the events dated
    before it, which the horizon covers, except the SLA clocks that still run to it: int_tickets_measured moves
    those to the new moment (move_running_sla_clocks). The open tickets grow with history (the generator, like
    a real help desk, leaves some open for good); the day's work should grow with the day.

    Everything is recomputed when the as-of moment moves back (a re-export dating the latest event earlier
    would drop events that no ticket's new record carries), and when the SLA policies or the set of agents
    change (a new agent makes their comments replies on old tickets): the three models share one list, so a
    downstream model recomputes everything whenever an upstream one does.
#}

{% macro support_ticket_plan() -%}
    {%- if not is_incremental_run() -%}
        {{- return(incremental_plan()) -}}
    {%- endif -%}
    {%- set batches = 'select batch_id from incremental_batches' -%}
    {%- set users = raw_relation('support', 'users') -%}
    {{- return(incremental_plan(recompute_everything_if=[
        support_as_of() ~ " < (select horizon from " ~ incremental_state_relation()
        ~ " where model = " ~ incremental_state_key_sql() ~ ")",
        "exists (select from " ~ raw_relation('support', 'sla_policies') ~ " where _batch_id in (" ~ batches ~ "))",
        "exists (
            select from " ~ users ~ " as changed
            where " ~ in_batches('changed._batch_id', batches) ~ "
                and (
                    lower(trim(changed.role)) in ('agent', 'admin')
                    or exists (
                        select from " ~ users ~ " as earlier
                        where earlier.id = changed.id and lower(trim(earlier.role)) in ('agent', 'admin')
                    )
                )
        )",
    ])) -}}
{%- endmacro %}

{% macro support_tickets_touched(plan) -%}
    {%- set in_run = in_batches('_batch_id', 'select batch_id from incremental_batches') -%}
    {%- set loaded = '_batch_id <= ' ~ plan.through -%}
    {%- set after_horizon = "> '" ~ plan.horizon ~ "'::timestamp at time zone 'UTC'" -%}
    with incremental_batches as ({{ incremental_batches_sql(plan) }})
    select id from {{ raw_relation('support', 'tickets') }} where {{ in_run }}
    union all
    select ticket_id from {{ raw_relation('support', 'ticket_comments') }} where {{ in_run }}
    union all
    select ticket_id from {{ raw_relation('support', 'ticket_field_history') }} where {{ in_run }}
    union all
    select ticket_id from {{ raw_relation('support', 'ticket_metric_events') }} where {{ in_run }}
    {%- if plan.horizon %}
    union all
    select id from {{ raw_relation('support', 'tickets') }}
    where {{ loaded }} and (created_at {{ after_horizon }} or updated_at {{ after_horizon }})
    union all
    select ticket_id from {{ raw_relation('support', 'ticket_comments') }}
    where {{ loaded }} and created_at {{ after_horizon }}
    union all
    select ticket_id from {{ raw_relation('support', 'ticket_field_history') }}
    where {{ loaded }} and updated {{ after_horizon }}
    union all
    select ticket_id from {{ raw_relation('support', 'ticket_metric_events') }}
    where {{ loaded }} and time {{ after_horizon }}
    {%- endif %}
{%- endmacro %}

{#
    Pre-hook: the rows of tickets that no longer belong in the model (deleted in Zendesk, or their only records
    were in a batch the raw gate failed). dbt's delete+insert replaces the rows of every ticket the run computes;
    a ticket it no longer computes would otherwise keep its old rows.
#}
{% macro delete_support_tickets_gone() -%}
    {%- if is_incremental_run() -%}
        {%- set plan = support_ticket_plan() -%}
        {%- set touched = incremental_keys(support_tickets_touched(plan)) if plan.incremental else none -%}
        delete from {{ this }} as kept
        where
            {% if touched -%}
            kept.ticket_id = any({{ touched }}) and
            {% endif -%}
            not exists (
                select from {{ ref('stg_support__tickets') }} as tickets
                where tickets.ticket_id = kept.ticket_id
                    {% if touched -%} and tickets.ticket_id = any({{ touched }}) {%- endif %}
                    and not tickets.is_deleted
                    and tickets.created_at <= {{ support_ticket_horizon() }}
            )
    {%- endif -%}
{%- endmacro %}

{#
    The moment after which a ticket, comment or change does not count yet, cheaply: a pinned as-of moment as
    support_as_of() gives it; else the build's clock. By default the as-of moment is the export's latest event
    but never later than the build's clock, and every ticket's creation is one of those events, so "created by
    the as-of moment" and "created by the build's clock" select the same tickets, without the three
    de-duplications support_as_of() reads.
#}
{% macro support_ticket_horizon() -%}
    {%- if var('support_as_of', none) is not none or reporting_as_of() is not none -%}
        {{ support_as_of() }}
    {%- else -%}
        (current_timestamp at time zone 'UTC')
    {%- endif -%}
{%- endmacro %}

{#
    Post-hook of int_tickets_measured on a daily run: the SLA clocks still running on tickets the run did not
    recompute, moved to the new as-of moment. Such a clock's minutes are the span from the ticket's creation to the
    as-of moment and nothing else of the ticket changed (anything that could touches it), so they are measured
    again here instead of recomputing the whole ticket from its comments and statuses: the open tickets the
    generator and real help desks leave behind grow with history, the day's work should not. A clock with no stop
    and no minutes (a solve with no recorded moment) has no known span and stays null. The spans are measured as
    the model measures them (span_minutes), which tests/integration/test_incremental_daily_run.py holds
    to a full rebuild's.
#}
{% macro move_running_sla_clocks() -%}
    {%- if not is_incremental_run() -%}{{ return('') }}{%- endif -%}
    {%- set plan = support_ticket_plan() -%}
    {%- if not plan.incremental -%}{{ return('') }}{%- endif -%}
    {%- set untouched = 'ticket_id <> all(' ~ incremental_keys(support_tickets_touched(plan)) ~ ')' -%}
    {%- set running_clocks = {
        'first_reply_sla': 'first_reply_sla_stopped_at is null and first_reply_sla_calendar_minutes is not null',
        'resolution_sla': 'resolution_sla_stopped_at is null and resolution_sla_calendar_minutes is not null',
    } %}
    with

    as_of as (
        select {{ support_as_of() }} as as_of_at
    ),

    schedule as (
        {{ business_schedule() }}
    ),

    running as (
        -- each running clock's span ends at the as-of moment; a stopped one's has no end here
        select
            measured.ticket_id,
            measured.created_at,
            {%- for clock, is_running in running_clocks.items() %}
            case when {{ is_running }} then as_of.as_of_at end as {{ clock }}_ended_at
            {{- ',' if not loop.last }}
            {%- endfor %}
        from {{ this }} as measured
        cross join as_of
        where ({{ running_clocks.values() | join(') or (') }}) and {{ untouched }}
    ),

    opened as (
        select
            running.*,
            {{ open_microseconds('schedule', 'running.created_at') | indent(12) }} as created_at_open,
            {%- for clock in running_clocks %}
            {{ open_microseconds('schedule', 'running.' ~ clock ~ '_ended_at') | indent(12) }} as {{ clock }}_ended_at_open
            {{- ',' if not loop.last }}
            {%- endfor %}
        from running
        cross join schedule
    ),

    moved as (
        select
            ticket_id,
            {%- for clock in running_clocks %}
            {{ span_minutes(clock, 'created_at', clock ~ '_ended_at') | indent(12) }}
            {{- ',' if not loop.last }}
            {%- endfor %}
        from opened
    )

    -- a clock that stopped keeps its minutes
    update {{ this }} as measured set
        first_reply_sla_calendar_minutes
            = coalesce(moved.first_reply_sla_calendar_minutes, measured.first_reply_sla_calendar_minutes),
        first_reply_sla_business_minutes
            = coalesce(moved.first_reply_sla_business_minutes, measured.first_reply_sla_business_minutes),
        resolution_sla_calendar_minutes
            = coalesce(moved.resolution_sla_calendar_minutes, measured.resolution_sla_calendar_minutes),
        resolution_sla_business_minutes
            = coalesce(moved.resolution_sla_business_minutes, measured.resolution_sla_business_minutes)
    from moved
    where measured.ticket_id = moved.ticket_id
{%- endmacro %}

{#
    The tickets fct_support_tickets recomputes on a daily run: those the ticket models recompute (touched since
    the mart's own last run, two runs ago when the retired marts are reused), and those whose row can change with
    no record of the ticket in the run: a satisfaction rating given or dated after the last as-of moment; a target
    not yet judged while its clock runs (judged breached once the clock passes the target; a breach, like a stopped
    clock's verdict, stands); another customer, as identity resolution now matches the ticket's organization or
    requester (int_customer_identity's changes recorded since the mart's last build: macros/row_changes.sql). A
    ticket's product input class depends on its own text and tags and on the rules seed only
    (int_customer_inputs_classified): a new record of the ticket touches it, new rules change the fingerprint.
#}
{% macro support_ticket_facts_changed(plan) -%}
    {%- set in_run = in_batches('_batch_id', 'select batch_id from incremental_batches') -%}
    {%- set after_horizon = "> '" ~ plan.horizon ~ "'::timestamp at time zone 'UTC'" -%}
    with

    incremental_batches as ({{ incremental_batches_sql(plan) }}),

    changed_identities as ({{ row_changes_since('int_customer_identity', plan.last_built_at) }})

    -- the touched tickets as the pre-hook (delete_support_tickets_gone) read them: run once per invocation
    select unnest({{ incremental_keys(support_tickets_touched(plan)) }})
    union all
    select ticket_id from {{ raw_relation('support', 'satisfaction_ratings') }}
    where {{ in_run }}
        {%- if plan.horizon %}
        or (_batch_id <= {{ plan.through }} and (created_at {{ after_horizon }} or updated_at {{ after_horizon }}))
        {%- endif %}
    union all
    select ticket_id from {{ this }}
    where
        (first_reply_target_minutes is not null and first_reply_sla_met is null)
        or (resolution_target_minutes is not null and resolution_sla_met is null)
    union all
    select ticket_id from {{ this }}
    where
        organization_id::text in (
            select source_id from changed_identities where source_system = 'support_organization'
        )
        or requester_id::text in (select source_id from changed_identities where source_system = 'support_user')
{%- endmacro %}

{# Pre-hook: the tickets the run recomputes, for int_customer_signals_monthly (macros/customer_signals_incremental.sql). #}
{% macro log_support_tickets_recomputed() -%}
    {%- set plan = support_ticket_plan() -%}
    {%- if plan.incremental -%}
        {{ log_recomputed_keys(
            'select unnest(' ~ incremental_keys(support_ticket_facts_changed(plan)) ~ ')::text, null::date'
        ) }}
    {%- else -%}
        {{ log_recomputed_keys(none) }}
    {%- endif -%}
{%- endmacro %}
