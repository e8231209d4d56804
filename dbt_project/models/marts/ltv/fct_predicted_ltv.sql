{{ config(tags=['predicted_ltv']) }}
{#
    One row per customer valued by the latest daily fit (fit_kind = pipeline): BG/NBD's probability alive and
    expected one-off purchases, Gamma-Gamma's expected spend, and the discounted CLV, with the inputs the
    models saw. When the latest daily fit failed, the mart is empty rather than filled from an older fit or an
    unidentified one: ltv_model_fit says why.
#}
with

latest_fit as (
    select fit_id, as_of_date, time_unit, horizon_months, monthly_discount_rate
    from {{ ref('ltv_model_fit') }}
    where fit_kind = 'pipeline'
    order by as_of_date desc nulls last, fit_id desc
    limit 1
),

predictions as (
    select * from {{ ref('stg_ltv__customer_predictions') }}
),

customers as (
    select customer_key, cohort_month, acquisition_channel, segment
    from {{ ref('fct_customer_lifetime_value') }}
),

final as (
    select
        predictions.customer_key,
        latest_fit.fit_id,
        latest_fit.as_of_date,
        latest_fit.time_unit,
        customers.cohort_month,
        coalesce(customers.acquisition_channel, 'UNKNOWN') as acquisition_channel,
        coalesce(customers.segment, 'unknown') as segment,
        predictions.frequency::integer as frequency,
        round(predictions.recency_weeks::numeric, 4)::numeric(10, 4) as recency_weeks,
        round(predictions.t_weeks::numeric, 4)::numeric(10, 4) as t_weeks,
        round(predictions.monetary_value_usd::numeric, 2)::numeric(14, 2) as monetary_value_usd,
        round(predictions.probability_alive::numeric, 4)::numeric(6, 4) as probability_alive,
        round(predictions.expected_spend_usd::numeric, 2)::numeric(14, 2) as expected_spend_usd,
        round(predictions.expected_transactions_3m::numeric, 4)::numeric(10, 4) as expected_transactions_3m,
        round(predictions.expected_transactions_6m::numeric, 4)::numeric(10, 4) as expected_transactions_6m,
        round(predictions.expected_transactions_12m::numeric, 4)::numeric(10, 4) as expected_transactions_12m,
        round(predictions.expected_revenue_3m_usd::numeric, 2)::numeric(14, 2) as expected_revenue_3m_usd,
        round(predictions.expected_revenue_6m_usd::numeric, 2)::numeric(14, 2) as expected_revenue_6m_usd,
        round(predictions.expected_revenue_12m_usd::numeric, 2)::numeric(14, 2) as expected_revenue_12m_usd,
        round(predictions.predicted_clv_usd::numeric, 2)::numeric(14, 2) as predicted_clv_usd,
        latest_fit.horizon_months,
        latest_fit.monthly_discount_rate
    from latest_fit
    inner join predictions
        on latest_fit.fit_id = predictions.fit_id
    left join customers
        on predictions.customer_key = customers.customer_key
)

select
    customer_key,
    fit_id,
    as_of_date,
    time_unit,
    cohort_month,
    acquisition_channel,
    segment,
    frequency,
    recency_weeks,
    t_weeks,
    monetary_value_usd,
    probability_alive,
    expected_spend_usd,
    expected_transactions_3m,
    expected_transactions_6m,
    expected_transactions_12m,
    expected_revenue_3m_usd,
    expected_revenue_6m_usd,
    expected_revenue_12m_usd,
    predicted_clv_usd,
    horizon_months,
    monthly_discount_rate
from final
