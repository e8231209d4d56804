with

source as (
    select * from {{ audited_source('crm', 'team_costs') }}
),

renamed as (
    select
        date_trunc('month', cost_month)::date as cost_month,
        lower(team) as team,
        lower(cost_type) as cost_type,
        description,
        amount::numeric(14, 2) as cost_amount,
        upper(currency) as currency_code,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['cost_month', 'team', 'cost_type']) }}
)

select
    {{ surrogate_key(['cost_month', 'team', 'cost_type']) }} as team_cost_id,
    cost_month,
    team,
    cost_type,
    description,
    cost_amount,
    currency_code,
    _batch_id as load_batch_id
from deduplicated
