{#-
    One row per current SLA policy and target: Zendesk nests the targets (policy_metrics) inside each policy.
    Current: of every export of the policies loaded, each policy's latest version (updated_at), then the newest
    batch; older versions are in stg_support__sla_policy_versions.
-#}
with

source as (
    select * from {{ audited_source('support', 'sla_policies') }}
),

deduplicated as (
    select distinct on (id) *
    from source
    order by id asc, updated_at desc nulls last, _batch_id desc, _source_line desc
),

policy_targets as (
    select
        deduplicated.id as sla_policy_id,
        trim(deduplicated.title) as policy_title,
        deduplicated.position as policy_position,
        lower(trim(target.value ->> 'priority')) as priority,
        lower(trim(target.value ->> 'metric')) as metric,
        (target.value ->> 'target')::integer as target_minutes,
        coalesce((target.value ->> 'business_hours')::boolean, false) as is_business_hours,
        deduplicated._batch_id
    from deduplicated
    cross join lateral jsonb_array_elements(deduplicated.policy_metrics) as target (value)
)

select
    {{ surrogate_key(['sla_policy_id', 'priority', 'metric']) }} as sla_target_id,
    sla_policy_id,
    policy_title,
    policy_position,
    priority,
    metric,
    target_minutes,
    is_business_hours,
    _batch_id as load_batch_id
from policy_targets
