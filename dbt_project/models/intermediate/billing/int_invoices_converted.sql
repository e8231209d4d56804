{#
    One row per invoice with its amounts in the reporting currency, at the FX rate of the invoice's day (a day of
    the reporting time zone, as the rate table's days are), or the latest earlier rate when that day has none
    (weekends, late or rejected rate rows).
    The reporting currency passes through at 1.0. An invoice in a currency the FX table does not know, or
    dated before its first rate, is kept with fx_missing = true and null reporting-currency amounts, so that
    a sum over amount_paid_usd can never silently include money in another currency.
#}
with

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

invoice_service_periods as (
    -- The service period an invoice bills is its lines' period (Stripe: "for subscription line items, this is the
    -- subscription period"), not the invoice's period_start/period_end, which is the usage period during which
    -- items were added: on a renewal the period just ended, on a subscription's first invoice its creation time.
    select
        invoice_id,
        min(period_start_at) as service_period_start_at,
        max(period_end_at) as service_period_end_at
    from {{ ref('stg_billing__invoice_line_items') }}
    group by invoice_id
),

-- Each rate holds from its day until the next rate of its currency: a range join, planned set-wise.
fx_rates as (
    select
        currency_code,
        rate_date,
        rate_to_usd,
        lead(rate_date) over (partition by currency_code order by rate_date) as next_rate_date
    from {{ ref('stg_billing__fx_rates') }}
),

dated_invoices as (
    select
        invoices.*,
        invoice_service_periods.service_period_start_at,
        invoice_service_periods.service_period_end_at,
        {{ local_date('invoices.created_at') }} as invoice_date
    from invoices
    left join invoice_service_periods
        on invoices.invoice_id = invoice_service_periods.invoice_id
),

invoices_with_rate as (
    select
        dated_invoices.*,
        case
            when dated_invoices.currency_code = '{{ var("reporting_currency") }}' then dated_invoices.invoice_date
            else fx_rates.rate_date
        end as fx_rate_date,
        case
            when dated_invoices.currency_code = '{{ var("reporting_currency") }}' then 1.0
            else fx_rates.rate_to_usd
        end as fx_rate_to_usd
    from dated_invoices
    left join fx_rates
        on
            dated_invoices.currency_code = fx_rates.currency_code
            and dated_invoices.invoice_date >= fx_rates.rate_date
            and (dated_invoices.invoice_date < fx_rates.next_rate_date or fx_rates.next_rate_date is null)
),

converted as (
    select
        invoice_id,
        billing_customer_id,
        subscription_id,
        invoice_status,
        billing_reason,
        coupon_id,
        currency_code,
        invoice_date,
        created_at,
        paid_at,
        period_start_at,
        period_end_at,
        service_period_start_at,
        service_period_end_at,
        fx_rate_date,
        fx_rate_to_usd,
        fx_rate_to_usd is null as fx_missing,
        subtotal,
        discount_amount,
        amount_due,
        amount_paid,
        round(subtotal * fx_rate_to_usd, 2)::numeric(14, 2) as subtotal_usd,
        round(discount_amount * fx_rate_to_usd, 2)::numeric(14, 2) as discount_amount_usd,
        round(amount_due * fx_rate_to_usd, 2)::numeric(14, 2) as amount_due_usd,
        round(amount_paid * fx_rate_to_usd, 2)::numeric(14, 2) as amount_paid_usd
    from invoices_with_rate
)

select * from converted
