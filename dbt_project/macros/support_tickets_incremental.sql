{#
    The ticket-keyed support models (int_ticket_statuses_dated, int_tickets_measured, int_tickets_sla_targets)
    rebuild, on a daily run, only the tickets something new touched (macros/incremental_by_key.sql says how).

    A ticket is touched by a new or re-exported ticket record, comment, field change or metric event; by a
    batch of any of them that the raw gate failed; by an event dated after the last build's clock (loaded then,
    but not yet counted: see support_ticket_horizon); and, for the models whose rows run a clock to the as-of
    moment, by still being open (the model passes those tickets as `open_sql`).

    Everything is recomputed when the SLA policies or the set of agents change (a new agent makes their
    comments replies on old tickets): the three models share one list, so a downstream model recomputes
    everything whenever an upstream one does.
#}

{% macro support_ticket_plan() -%}
    {%- if not (execute and this is not none and is_incremental()) -%}
        {{- return(incremental_plan()) -}}
    {%- endif -%}
    {%- set batches = 'select batch_id from incremental_batches' -%}
    {%- set users = raw_relation('support', 'users') -%}
    {{- return(incremental_plan(recompute_everything_if=[
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

{% macro support_tickets_touched(plan, open_sql=none) -%}
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
    select ticket_id from {{ raw_relation('support', 'ticket_comments') }} where {{ loaded }} and created_at {{ after_horizon }}
    union all
    select ticket_id from {{ raw_relation('support', 'ticket_field_history') }} where {{ loaded }} and updated {{ after_horizon }}
    union all
    select ticket_id from {{ raw_relation('support', 'ticket_metric_events') }} where {{ loaded }} and time {{ after_horizon }}
    {%- endif %}
    {%- if open_sql %}
    union all
    {{ open_sql }}
    {%- endif %}
{%- endmacro %}

{#
    Pre-hook: the rows of tickets that no longer belong in the model (deleted in Zendesk, or their only records
    were in a batch the raw gate failed). dbt's delete+insert replaces the rows of every ticket the run computes;
    a ticket it no longer computes would otherwise keep its old rows.
#}
{% macro delete_support_tickets_gone() -%}
    {%- if execute and this is not none and is_incremental() -%}
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
    de-duplications support_as_of() reads. As the post-hook's horizon: the next run looks again at the tickets
    with events dated after this build's clock, the only ones this build left out.
#}
{% macro support_ticket_horizon() -%}
    {%- if var('support_as_of', none) is not none or reporting_as_of() is not none -%}
        {{ support_as_of() }}
    {%- else -%}
        (current_timestamp at time zone 'UTC')
    {%- endif -%}
{%- endmacro %}
