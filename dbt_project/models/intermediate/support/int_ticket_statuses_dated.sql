{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['ticket_id', 'status_sequence'], 'unique': True}],
        unique_key='ticket_id',
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_support_tickets_gone() }}",
        post_hook="{{ record_incremental_state(support_as_of()) }}",
    )
}}
{#
    Each ticket's status spells up to the export's as-of moment: one row per status change, valid from the
    change until the next one (valid_to null for the status the ticket is in at the as-of moment). Status
    changes dated after the as-of moment are ignored. A solve is a change into solved or closed from any other
    status; a reopen is a change out of solved or closed. A ticket without any status history gets one spell
    from its creation in the status its ticket record shows; that spell is not a recorded change
    (is_recorded_change false), so a ticket solved or closed without history has no known solve (Zendesk
    leaves its resolution times unset, not zero). Deleted tickets (status deleted in the ticket record) are left
    out, as Zendesk's reporting leaves them out. A status Zendesk does not document counts as unsolved.
#}
{%- set plan = support_ticket_plan() -%}
{%- set touched = incremental_keys(support_tickets_touched(plan)) if plan.incremental else none -%}

with

as_of as (
    select {{ support_as_of() }} as as_of_at
),

tickets as (
    select tickets.ticket_id, tickets.created_at, tickets.ticket_status
    from {{ ref('stg_support__tickets') }} as tickets
    cross join as_of
    where
        tickets.created_at <= as_of.as_of_at
        and not tickets.is_deleted
    {%- if touched %} and tickets.ticket_id = any({{ touched }}){% endif %}
),

status_history as materialized (
    -- the ticket's status changes, read once (a read of the staging view de-duplicates the whole history: it was
    -- read twice, for the changes and for the tickets without any)
    select ticket_id, new_value, changed_at, field_change_id
    from {{ ref('stg_support__ticket_field_history') }}
    where field_name = 'status'
    {%- if touched %} and ticket_id = any({{ touched }}){% endif %}
),

status_changes as (
    select
        status_history.ticket_id,
        status_history.new_value as status,
        status_history.changed_at,
        status_history.field_change_id,
        true as is_recorded_change
    from status_history
    cross join as_of
    where
        status_history.new_value is not null
        and status_history.changed_at <= as_of.as_of_at
),

tickets_without_history as (
    select
        tickets.ticket_id,
        tickets.ticket_status as status,
        tickets.created_at as changed_at,
        null::bigint as field_change_id,
        false as is_recorded_change
    from tickets
    where not exists (
        select from status_history
        where status_history.ticket_id = tickets.ticket_id
    )
),

all_changes as (
    select status_changes.*
    from status_changes
    inner join tickets on status_changes.ticket_id = tickets.ticket_id
    union all
    select * from tickets_without_history
),

sequenced as (
    select
        ticket_id,
        status,
        changed_at as valid_from,
        lead(changed_at) over ticket_order as valid_to,
        lag(status) over ticket_order as previous_status,
        row_number() over ticket_order as status_sequence,
        is_recorded_change
    from all_changes
    window ticket_order as (partition by ticket_id order by changed_at, field_change_id)
)

select
    ticket_id,
    status_sequence,
    status,
    previous_status,
    valid_from,
    valid_to,
    is_recorded_change,
    status in ('solved', 'closed') as is_solved_status,
    is_recorded_change
    and status in ('solved', 'closed')
    and coalesce(previous_status, 'new') not in ('solved', 'closed') as is_solve,
    previous_status in ('solved', 'closed') and status not in ('solved', 'closed') as is_reopen
from sequenced
