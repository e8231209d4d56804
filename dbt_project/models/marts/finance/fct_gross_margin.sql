with

margins as (
    select * from {{ ref('int_gross_margin_monthly') }}
),

final as (
    select
        month,
        mrr_usd,
        paying_customers,
        arpa_usd,
        cost_of_revenue_usd,
        gross_margin_pct
    from margins
)

select
    month,
    mrr_usd,
    paying_customers,
    arpa_usd,
    cost_of_revenue_usd,
    gross_margin_pct
from final
