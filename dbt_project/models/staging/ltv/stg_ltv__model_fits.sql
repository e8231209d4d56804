{{ config(tags=['predicted_ltv']) }}

with

source as (
    select * from {{ source('ltv', 'model_fits') }}
),

renamed as (
    select
        fit_id,
        run_id,
        kind as fit_kind,
        fitted_at at time zone 'UTC' as fitted_at,
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
        gamma_gamma_gamma,
        gamma_gamma_log_likelihood,
        converged,
        message,
        horizon_months,
        monthly_discount_rate,
        holdout_end_date,
        holdout_predicted_transactions,
        holdout_actual_transactions,
        holdout_error_pct / 100.0 as holdout_error_ratio,
        holdout_mean_absolute_error
    from source
)

select * from renamed
