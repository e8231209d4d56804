{#
    One row per acquisition channel and cohort month (the month of the first paid invoice, which is also the
    month fct_acquisition_cost counts a new customer in): what the channel paid to win the month's customers
    against what they are worth. Every channel month of fct_acquisition_cost appears (a month with spend and no
    customer has null CAC and LTV); the UNALLOCATED row (ledger cost of a month without new customers) is not a
    channel and is left out.

    CAC is summed from fct_acquisition_cost: paid CAC = ad spend ÷ new customers, blended CAC = (ad spend +
    allocated sales and marketing ledger cost) ÷ new customers. LTV:CAC = LTV per customer ÷ CAC, null when
    the CAC is 0 (organic channels have no paid spend: the ratio is unbounded, not a number to rank) or
    unknown. CAC payback = CAC ÷ (cohort ARPA × gross margin %), docs/metrics.md's definition.

    Predicted LTV (issue 6) sits beside them: the cohort's predicted CLV of one-off purchases (fct_predicted_ltv,
    BG/NBD × Gamma-Gamma, 12 months discounted) summed and divided by all the cohort's customers (a customer
    the model has not seen buy one-off is expected to add 0), times the cohort's gross margin %, as docs/metrics.md
    puts LTV:CAC on gross margin. Null, not 0, when the latest daily fit failed.

    Length (154 lines, over the style's ~150): One model: paid and blended LTV:CAC, payback and predicted LTV
    per channel and cohort all divide the same cohort LTV by the same cohort CAC; the length is the null rules
    written out for each ratio.
#}
with

acquisition_cost as (
    select * from {{ ref('fct_acquisition_cost') }}
    where channel <> 'UNALLOCATED'
),

cohort_ltv as (
    select * from {{ ref('fct_cohort_lifetime_value') }}
),

latest_fit as (
    select converged
    from {{ ref('ltv_model_fit') }}
    where fit_kind = 'pipeline'
    order by as_of_date desc nulls last, fit_id desc
    limit 1
),

predicted_by_cohort as (
    select
        cohort_month,
        acquisition_channel,
        count(*) as customers_with_predicted_clv,
        sum(predicted_clv_usd) as predicted_clv_usd
    from {{ ref('fct_predicted_ltv') }}
    group by cohort_month, acquisition_channel
),

cohort_predicted as (
    select
        cohort_ltv.cohort_month,
        cohort_ltv.acquisition_channel,
        case
            when (select latest_fit.converged from latest_fit) then coalesce(predicted_by_cohort.predicted_clv_usd, 0)
        end as predicted_clv_usd,
        coalesce(predicted_by_cohort.customers_with_predicted_clv, 0) as customers_with_predicted_clv
    from cohort_ltv
    left join predicted_by_cohort
        on
            cohort_ltv.cohort_month = predicted_by_cohort.cohort_month
            and cohort_ltv.acquisition_channel = predicted_by_cohort.acquisition_channel
),

joined as (
    select
        coalesce(acquisition_cost.month, cohort_ltv.cohort_month) as cohort_month,
        coalesce(acquisition_cost.channel, cohort_ltv.acquisition_channel) as acquisition_channel,
        coalesce(cohort_ltv.customers, 0) as customers,
        coalesce(acquisition_cost.spend, 0) as paid_spend,
        coalesce(acquisition_cost.allocated_sales_marketing_cost, 0) as allocated_sales_marketing_cost,
        cohort_ltv.historical_ltv_per_customer_usd,
        cohort_ltv.formula_ltv_per_customer_usd,
        cohort_ltv.arpa_usd,
        cohort_ltv.gross_margin_pct,
        coalesce(cohort_predicted.customers_with_predicted_clv, 0) as customers_with_predicted_clv,
        cohort_predicted.predicted_clv_usd
    from acquisition_cost
    full outer join cohort_ltv
        on
            acquisition_cost.month = cohort_ltv.cohort_month
            and acquisition_cost.channel = cohort_ltv.acquisition_channel
    left join cohort_predicted
        on
            cohort_ltv.cohort_month = cohort_predicted.cohort_month
            and cohort_ltv.acquisition_channel = cohort_predicted.acquisition_channel
),

with_cac as (
    select
        *,
        case when customers > 0 then round(paid_spend / customers, 2) end as paid_cac_usd,
        case when customers > 0 then round((paid_spend + allocated_sales_marketing_cost) / customers, 2) end
            as blended_cac_usd,
        case when customers > 0 then round(predicted_clv_usd / customers, 2) end as predicted_clv_per_customer_usd,
        case when customers > 0 then round(predicted_clv_usd / customers * gross_margin_pct, 2) end
            as predicted_ltv_per_customer_usd
    from joined
),

final as (
    select
        cohort_month,
        acquisition_channel,
        customers::integer as customers,
        paid_spend::numeric(14, 2) as paid_spend_usd,
        allocated_sales_marketing_cost::numeric(14, 2) as allocated_sales_marketing_cost_usd,
        paid_cac_usd::numeric(14, 2) as paid_cac_usd,
        blended_cac_usd::numeric(14, 2) as blended_cac_usd,
        historical_ltv_per_customer_usd::numeric(14, 2) as historical_ltv_per_customer_usd,
        formula_ltv_per_customer_usd::numeric(14, 2) as formula_ltv_per_customer_usd,
        arpa_usd::numeric(14, 2) as arpa_usd,
        gross_margin_pct::numeric(8, 4) as gross_margin_pct,
        round(formula_ltv_per_customer_usd / nullif(paid_cac_usd, 0), 2)::numeric(10, 2) as formula_ltv_to_paid_cac,
        round(formula_ltv_per_customer_usd / nullif(blended_cac_usd, 0), 2)::numeric(10, 2)
            as formula_ltv_to_blended_cac,
        round(historical_ltv_per_customer_usd / nullif(blended_cac_usd, 0), 2)::numeric(10, 2)
            as historical_ltv_to_blended_cac,
        customers_with_predicted_clv::integer as customers_with_predicted_clv,
        predicted_clv_per_customer_usd::numeric(14, 2) as predicted_clv_per_customer_usd,
        predicted_ltv_per_customer_usd::numeric(14, 2) as predicted_ltv_per_customer_usd,
        round(predicted_ltv_per_customer_usd / nullif(paid_cac_usd, 0), 2)::numeric(10, 2) as predicted_ltv_to_paid_cac,
        round(predicted_ltv_per_customer_usd / nullif(blended_cac_usd, 0), 2)::numeric(10, 2)
            as predicted_ltv_to_blended_cac,
        -- no payback without a positive monthly margin: null, never a negative number of months
        (case
            when arpa_usd * gross_margin_pct > 0 then round(paid_cac_usd / (arpa_usd * gross_margin_pct), 1)
        end)::numeric(8, 1) as paid_cac_payback_months,
        (case
            when arpa_usd * gross_margin_pct > 0 then round(blended_cac_usd / (arpa_usd * gross_margin_pct), 1)
        end)::numeric(8, 1) as blended_cac_payback_months
    from with_cac
)

select
    cohort_month,
    acquisition_channel,
    customers,
    paid_spend_usd,
    allocated_sales_marketing_cost_usd,
    paid_cac_usd,
    blended_cac_usd,
    historical_ltv_per_customer_usd,
    formula_ltv_per_customer_usd,
    arpa_usd,
    gross_margin_pct,
    formula_ltv_to_paid_cac,
    formula_ltv_to_blended_cac,
    historical_ltv_to_blended_cac,
    customers_with_predicted_clv,
    predicted_clv_per_customer_usd,
    predicted_ltv_per_customer_usd,
    predicted_ltv_to_paid_cac,
    predicted_ltv_to_blended_cac,
    paid_cac_payback_months,
    blended_cac_payback_months
from final
