{{ config(tags=['predicted_ltv']) }}

with

source as (
    select * from {{ source('ltv', 'customer_predictions') }}
),

renamed as (
    select
        fit_id,
        customer_key,
        frequency,
        recency as recency_weeks,
        t as t_weeks,
        monetary_value_usd,
        p_alive as probability_alive,
        expected_spend_usd,
        expected_transactions_3m,
        expected_transactions_6m,
        expected_transactions_12m,
        expected_revenue_3m_usd,
        expected_revenue_6m_usd,
        expected_revenue_12m_usd,
        clv_usd as predicted_clv_usd
    from source
)

select * from renamed
