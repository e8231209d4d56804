{#
    int_subscription_mrr_monthly rebuilds, on a daily run, only the subscription months something new can change
    (macros/incremental_by_key.sql says how the batch ledger decides what is new).

    A row is a subscription's MRR at one month's snapshot. It follows from the subscription's own records (the
    subscription, its events, the subscription invoice lines billing it and their invoices), the month's
    snapshot instant and FX rates, and inputs every row reads: prices, products, coupons and the export's earliest
    event (whether the events reach back past a snapshot). A run recomputes:
    - every month of each subscription that a record in the run's batches names: a subscription, an event, an
      invoice (its `subscription`, and that of each line nested in it) or a flat line item;
    - every subscription's months from the earliest of: the last month the table holds (the data's end moves,
      and that month's snapshot was taken at the end of the data then), the data's last month now, and the month
      of the earliest FX rate in the run's batches (a month converts at the latest rate on or before its last
      day, so a rate dated d can change every month from d's on);
    - everything when the digest of the inputs every row reads differs from the last run's. A connector may
      deliver the price, product and coupon lists whole every day: unchanged, they change nothing.
    A batch the raw gate failed names the same records: they just left staging.
#}

{% macro subscription_mrr_plan() -%}
    {{- return(incremental_plan(digest_sql=subscription_mrr_digest_sql())) -}}
{%- endmacro %}

{# The inputs every row reads, as one digest: a change in any of them may change any row. #}
{% macro subscription_mrr_digest_sql() -%}
    select md5(concat_ws(
        '|',
        (
            select string_agg(
                concat_ws(',', price_id, product_id, currency_code, unit_amount, billing_interval, billing_interval_count),
                ';' order by price_id
            )
            from {{ ref('stg_billing__prices') }}
        ),
        (
            select string_agg(concat_ws(',', product_id, segment), ';' order by product_id)
            from {{ ref('stg_billing__products') }}
        ),
        (
            select string_agg(concat_ws(',', coupon_id, duration), ';' order by coupon_id)
            from {{ ref('stg_billing__coupons') }}
        ),
        (select min(occurred_at)::text from {{ ref('stg_billing__subscription_events') }})
    ))
{%- endmacro %}

{# The subscriptions a record in the run's batches names. #}
{% macro subscriptions_touched(plan) -%}
    {%- set in_run = in_batches('_batch_id', 'select batch_id from incremental_batches') -%}
    with incremental_batches as ({{ incremental_batches_sql(plan) }}),
    invoices_in_run as (
        select subscription, lines from {{ raw_relation('billing', 'invoices') }} where {{ in_run }}
    )
    select id from {{ raw_relation('billing', 'subscriptions') }} where {{ in_run }}
    union all
    select subscription_id from {{ raw_relation('billing', 'subscription_events') }} where {{ in_run }}
    union all
    select subscription from invoices_in_run
    union all
    select nested.line ->> 'subscription'
    from invoices_in_run
    cross join {{ nested_invoice_lines('invoices_in_run.lines') }} as nested
    union all
    select subscription from {{ raw_relation('billing', 'invoice_line_items') }} where {{ in_run }}
{%- endmacro %}

{#
    The first month every subscription is recomputed from (a date literal), in an incremental run. An empty table
    recomputes every month.
#}
{% macro subscription_mrr_from_month(plan) -%}
    {%- set in_run = in_batches('_batch_id', 'select batch_id from incremental_batches') -%}
    {%- set answer = run_query_once(
        'with incremental_batches as (' ~ incremental_batches_sql(plan) ~ ') select least('
        ~ "coalesce((select max(month) from " ~ this ~ "), '-infinity'::date), "
        ~ '(select max(month) from ' ~ graph_model_relation('int_revenue_months') ~ '), '
        ~ "(select date_trunc('month', min(rate_date))::date from " ~ raw_relation('billing', 'fx_rates')
        ~ ' where ' ~ in_run ~ '))::text'
    ).columns[0].values()[0] -%}
    {%- do log(this.identifier ~ ': every subscription from ' ~ answer, info=false) -%}
    {{- return("'" ~ answer ~ "'::date") -}}
{%- endmacro %}

{#
    Pre-hook: the rows the run replaces. In an incremental run, the touched subscriptions' and every row from the
    first recomputed month; when the model recomputes everything in place (new code, settings or inputs every row
    reads), every row.
#}
{% macro delete_subscription_months_recomputed() -%}
    {%- if is_incremental_run() -%}
        {%- set plan = subscription_mrr_plan() -%}
        delete from {{ this }}
        {%- if plan.incremental %}
        where month >= {{ subscription_mrr_from_month(plan) }}
            or subscription_id = any({{ incremental_keys(subscriptions_touched(plan), 'text') }})
        {%- endif %}
    {%- endif -%}
{%- endmacro %}
