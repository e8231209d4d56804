{{ config(tags=['predicted_ltv']) }}
{#
    One row per fit of the predictive LTV models, successful or not: the daily pipeline's fits and the
    backtests. A failed fit (too little information in the data, or an optimiser that did not converge) is a
    row with converged = false and the reason in message; its parameters are null when no fit was made.
#}
with

fits as (
    select * from {{ ref('stg_ltv__model_fits') }}
),

final as (
    select
        fit_id,
        fit_kind,
        as_of_date,
        time_unit,
        n_customers::integer as n_customers,
        n_repeat_customers::integer as n_repeat_customers,
        bgnbd_r::double precision as bgnbd_r,
        bgnbd_alpha::double precision as bgnbd_alpha,
        bgnbd_a::double precision as bgnbd_a,
        bgnbd_b::double precision as bgnbd_b,
        bgnbd_log_likelihood::double precision as bgnbd_log_likelihood,
        gamma_gamma_p::double precision as gamma_gamma_p,
        gamma_gamma_q::double precision as gamma_gamma_q,
        gamma_gamma_gamma::double precision as gamma_gamma_gamma_usd,
        gamma_gamma_log_likelihood::double precision as gamma_gamma_log_likelihood,
        converged,
        message,
        horizon_months::integer as horizon_months,
        round(monthly_discount_rate::numeric, 4)::numeric(8, 4) as monthly_discount_rate,
        holdout_end_date,
        round(holdout_predicted_transactions::numeric, 2)::numeric(14, 2) as holdout_predicted_transactions,
        round(holdout_actual_transactions::numeric, 0)::integer as holdout_actual_transactions,
        round(holdout_error_ratio::numeric, 4)::numeric(10, 4) as holdout_error_ratio,
        round(holdout_mean_absolute_error::numeric, 4)::numeric(10, 4) as holdout_mean_absolute_error
    from fits
)

select
    fit_id,
    fit_kind,
    as_of_date,
    time_unit,
    n_customers,
    n_repeat_customers,
    bgnbd_r,
    bgnbd_alpha,
    bgnbd_a,
    bgnbd_b,
    bgnbd_log_likelihood,
    gamma_gamma_p,
    gamma_gamma_q,
    gamma_gamma_gamma_usd,
    gamma_gamma_log_likelihood,
    converged,
    message,
    horizon_months,
    monthly_discount_rate,
    holdout_end_date,
    holdout_predicted_transactions,
    holdout_actual_transactions,
    holdout_error_ratio,
    holdout_mean_absolute_error
from final
