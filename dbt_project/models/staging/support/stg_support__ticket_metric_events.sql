{{
    config(
        materialized='incremental',
        unique_key=['ticket_id', 'metric_event_id'],
        indexes=[{'columns': ['ticket_id', 'metric_event_id']}],
    )
}}
{#- One row per ticket metric event; the sla object of apply_sla events flattened into the applied policy and
    target. -#}
with

source as (
    select * from {{ restaged_source('support', 'ticket_metric_events') }}
),

renamed as (
    select
        id as metric_event_id,
        ticket_id,
        lower(trim(metric)) as metric,
        instance_id,
        lower(trim(type)) as event_type,
        time at time zone 'UTC' as event_at,
        (sla -> 'policy' ->> 'id')::bigint as sla_policy_id,
        trim(sla -> 'policy' ->> 'title') as sla_policy_title,
        (sla ->> 'target')::integer as sla_target_minutes,
        (sla ->> 'business_hours')::boolean as sla_is_business_hours,
        _batch_id,
        _source_line
    from source
),

-- keyed by ticket too: a metric event belongs to one ticket for good (Zendesk records it on that ticket; a merge
-- adds new records to the target), so the key is the same, and a filter on ticket_id (the incremental support
-- models' tickets to recompute) reaches the raw scan below the DISTINCT ON instead of waiting above it
deduplicated as (
    {{ dedupe_latest('renamed', ['ticket_id', 'metric_event_id']) }}
)

select
    metric_event_id,
    ticket_id,
    metric,
    instance_id,
    event_type,
    event_at,
    sla_policy_id,
    sla_policy_title,
    sla_target_minutes,
    sla_is_business_hours,
    _batch_id as load_batch_id
from deduplicated
