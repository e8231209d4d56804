{#-
    One row per SLA policy version and target. Zendesk's API returns only the current policies, so their history
    is every export of them that was loaded (raw keeps each batch): a version is a policy as one export showed it,
    named by its updated_at (when that version was saved). The same version in several exports is one row (the
    newest batch wins).
-#}
with

source as (
    select * from {{ audited_source('support', 'sla_policies') }}
),

renamed as (
    select
        id as sla_policy_id,
        updated_at at time zone 'UTC' as policy_updated_at,
        created_at at time zone 'UTC' as policy_created_at,
        trim(title) as policy_title,
        position as policy_position,
        filter as policy_filter,
        policy_metrics,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    select distinct on (sla_policy_id, policy_updated_at) *
    from renamed
    order by sla_policy_id asc, policy_updated_at asc, _batch_id desc, _source_line desc
),


version_targets as (
    select
        deduplicated.sla_policy_id,
        deduplicated.policy_updated_at,
        deduplicated.policy_created_at,
        deduplicated.policy_title,
        deduplicated.policy_position,
        deduplicated.policy_filter,
        lower(trim(target.value ->> 'priority')) as priority,
        lower(trim(target.value ->> 'metric')) as metric,
        (target.value ->> 'target')::integer as target_minutes,
        coalesce((target.value ->> 'business_hours')::boolean, false) as is_business_hours,
        deduplicated._batch_id
    from deduplicated
    cross join lateral jsonb_array_elements(deduplicated.policy_metrics) as target (value)
)

select
    {{ surrogate_key(['sla_policy_id', 'policy_updated_at', 'priority', 'metric']) }} as sla_version_target_id,
    sla_policy_id,
    policy_updated_at,
    policy_created_at,
    policy_title,
    policy_position,
    policy_filter,
    priority,
    metric,
    target_minutes,
    is_business_hours,
    _batch_id as load_batch_id
from version_targets
