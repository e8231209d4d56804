{#
    What the FX rates in a run's batches change, for the models that convert at them (int_invoices_converted's
    invoices, int_subscription_mrr_monthly's months): a model's rows converted at the rates staging held when the
    model last ran, so a rate delivered again unchanged (a feed that sends its whole table every day) converts
    nothing otherwise, and one the raw gate failed since takes its rates back out of staging.
#}

{# Each day and currency the run's batches (`plan`: the model's own) carry a rate for; `withdrawn` when one of those
   batches failed the raw gate. The reporting currency converts at 1 whatever its rates say: left out. #}
{% macro fx_rates_delivered_sql(plan) -%}
    select
        upper(rates.currency) as currency_code,
        rates.rate_date,
        bool_or(ledger.validation = 'failed') as withdrawn
    from {{ raw_relation('billing', 'fx_rates') }} as rates
    inner join {{ raw_relation('ledger', 'load_batches') }} as ledger on rates._batch_id = ledger.batch_id
    where {{ in_batches('rates._batch_id', incremental_batches_sql(plan)) }}
        and upper(rates.currency) <> '{{ var("reporting_currency") | upper }}'
    group by upper(rates.currency), rates.rate_date
{%- endmacro %}

{# The rates as staging held them when the model (`plan`: its own) last ran: its batches, less those the gate had
   failed (one it failed since is among the run's, withdrawn), the latest delivery of each day and currency, as
   stg_billing__fx_rates keeps it. #}
{% macro fx_rates_staged_then_sql(plan) -%}
    select distinct on (upper(rates.currency), rates.rate_date)
        upper(rates.currency) as currency_code,
        rates.rate_date,
        rates.rate_to_usd
    from {{ raw_relation('billing', 'fx_rates') }} as rates
    where rates._batch_id <= {{ plan.since }}
        and not exists (
            select from {{ raw_relation('ledger', 'load_batches') }} as ledger
            where ledger.batch_id = rates._batch_id and ledger.validation = 'failed'
        )
    order by upper(rates.currency), rates.rate_date, rates._batch_id desc, rates._source_line desc
{%- endmacro %}
