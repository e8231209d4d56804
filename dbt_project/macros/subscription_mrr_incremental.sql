{#
    int_subscription_mrr_monthly rebuilds, on a daily run, only the subscription months something new can change
    (macros/incremental_by_key.sql says how the batch ledger decides what is new).

    A row is a subscription's MRR at one month's snapshot. It follows from the subscription's own records (the
    subscription, its events, the subscription invoice lines billing it and their invoices), the month's
    snapshot instant and FX rates, and inputs every row reads: prices, products, coupons and the export's earliest
    event (whether the events reach back past a snapshot). A run recomputes (subscription_mrr_recomputed):
    - every month of each subscription that a record in the run's batches names: a subscription, an event, an
      invoice (its `subscription`, and that of each line nested in it) or a flat line item;
    - where the data's end moved since the last build (the last snapshot then is the model's horizon), the month
      that held the earlier end: its snapshot moved from one end to the other, which changes only the
      subscriptions with a record dated between the two (a start, end or cancellation, an event, an invoice line's
      service period beginning or ending); every subscription's months after it, which are new or gone; and every
      subscription's from that month when the export's earliest event lies between the ends;
    - the months of the subscriptions priced in a currency whose rate a month reads changed: a rate in the run's
      batches, or one the moved month's last day now reaches or no longer does (a month converts at the latest
      rate on or before its last day). The rows' currency_code says which subscriptions: a subscription priced in
      another currency before is one whose records changed. Every subscription the run moves (these and those of
      the moved data end) is recomputed from the earliest month any of them is;
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

{# The last snapshot instant of the months now: the horizon a build of an MRR model records. #}
{% macro subscription_mrr_horizon_sql() -%}
    (select max(snapshot_at) from {{ graph_model_relation('int_revenue_months') }})
{%- endmacro %}

{#
    What an incremental run of a model kept by subscription months (`plan`: its own) recomputes, as
    {touched, from_month, moved, moved_from, month_closed}: every month of the `touched` subscriptions, every
    subscription's months from `from_month`, and the `moved` subscriptions' months from `moved_from` (text[] and
    date literals); `month_closed`: the month that held the earlier data end when it turned complete or partial
    (its snapshot moved past its end, or back), else none. None outside an incremental run.
#}
{% macro subscription_mrr_recomputed(plan) -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {%- set old_end = 'null::timestamp' if plan.horizon is none else "'" ~ plan.horizon ~ "'::timestamp" -%}
    {%- set last_month = local_month("lower_end - interval '1 microsecond'") -%}
    {%- set last_month_end = local_day_start(last_month ~ " + interval '1 month'") -%}
    {%- set ends = run_query_once(
        'select lower_end::text, upper_end::text, ' ~ last_month ~ '::text, lower_end < ' ~ last_month_end
        ~ ' and ' ~ last_month_end ~ ' <= upper_end, (' ~ last_month ~ " + interval '1 month')::date::text"
        ~ ' from (select least(old_end, new_end) as lower_end, greatest(old_end, new_end) as upper_end from (select '
        ~ old_end ~ ' as old_end, '
        ~ subscription_mrr_horizon_sql() ~ ' as new_end) as ends where old_end is not null and new_end is not null)'
        ~ ' as bounds'
    ) -%}
    {%- set recomputed = {
        'touched': incremental_keys(subscriptions_touched(plan), 'text'),
        'from_month': "'infinity'::date", 'moved': "'{}'::text[]", 'moved_from': "'infinity'::date",
        'month_closed': none,
    } -%}
    {%- if ends.rows | length == 0 -%}
        {#- no months at the last build or now: no data end to compare, nothing kept is reused -#}
        {%- do recomputed.update({'from_month': "'-infinity'::date"}) -%}
        {%- do log(this.identifier ~ ': every subscription month, no data end to compare', info=false) -%}
        {{- return(recomputed) -}}
    {%- endif -%}
    {%- set ends = ends.rows[0] -%}
    {%- set lower_end = "'" ~ ends[0] ~ "'::timestamp" -%}
    {%- set upper_end = "'" ~ ends[1] ~ "'::timestamp" -%}
    {%- set end_moved = ends[0] != ends[1] -%}
    {%- set moved_month = "'" ~ ends[2] ~ "'::date" -%}
    {%- set in_run = in_batches('_batch_id', 'select batch_id from incremental_batches') -%}
    {%- set within = ' >= ' ~ lower_end ~ ' and {} < ' ~ upper_end -%}
    {%- set rates_changed -%}
        with incremental_batches as ({{ incremental_batches_sql(plan) }})
        -- the reporting currency converts at 1 whatever its rates say
        select upper(currency) as currency_code, date_trunc('month', min(rate_date))::date as month
        from {{ raw_relation('billing', 'fx_rates') }}
        where {{ in_run }} and upper(currency) <> '{{ var("reporting_currency") | upper }}'
        group by upper(currency)
        {%- if end_moved %}
        union all
        select distinct currency_code, {{ moved_month }}
        from {{ graph_model_relation('stg_billing__fx_rates') }}
        where rate_date between {{ local_date(lower_end ~ " - interval '1 microsecond'") }} and {{ local_date(upper_end) }}
            and currency_code <> '{{ var("reporting_currency") | upper }}'
        {%- endif %}
    {%- endset -%}
    {%- set moved -%}
        -- the rows as they are {{ 'before' if this.identifier == 'int_subscription_mrr_monthly' else 'after' }}
        -- int_subscription_mrr_monthly's build: the models after it share the answer
        select rate_months.subscription_id, rates_changed.month
        from ({{ rates_changed }}) as rates_changed
        -- per currency, from the (currency_code, month) index: joined as a table (offset 0 keeps the subquery
        -- apart), PostgreSQL estimated a third of the table per currency and read all of it, 0.4 to 0.8 s at
        -- 100,000 customers in each of the four models that plan by subscription month
        cross join lateral (
            select subscription_mrr.subscription_id
            from {{ graph_model_relation('int_subscription_mrr_monthly') }} as subscription_mrr
            where subscription_mrr.currency_code = rates_changed.currency_code
                and subscription_mrr.month >= rates_changed.month
            offset 0
        ) as rate_months
        {%- if end_moved %}
        union all
        select subscription_id, {{ moved_month }} from {{ graph_model_relation('stg_billing__subscriptions') }}
        where started_at {{ within.format('started_at') }}
            or ended_at {{ within.format('ended_at') }}
            or canceled_at {{ within.format('canceled_at') }}
        union all
        select subscription_id, {{ moved_month }} from {{ graph_model_relation('stg_billing__subscription_events') }}
        where occurred_at {{ within.format('occurred_at') }}
        union all
        select subscription_id, {{ moved_month }} from {{ graph_model_relation('stg_billing__invoice_line_items') }}
        where subscription_id is not null
            and (period_start_at {{ within.format('period_start_at') }} or period_end_at {{ within.format('period_end_at') }})
        {%- endif %}
    {%- endset -%}
    {%- set found = run_query_once(
        "select coalesce(array_agg(distinct subscription_id order by subscription_id)::text, '{}'),"
        ~ " coalesce(min(month), 'infinity')::text, count(distinct subscription_id)"
        ~ ' from (' ~ moved ~ ') as moved (subscription_id, month) where subscription_id is not null'
    ).rows[0] -%}
    {%- do recomputed.update({
        'moved': key_array(found[0], 'text'),
        'moved_from': "'" ~ found[1] ~ "'::date",
        'month_closed': moved_month if end_moved and ends[3] else none,
    }) -%}
    {%- if end_moved -%}
        {#- the months after the one that held the earlier end are new or gone; the earliest event between the ends
            changes whether the events cover that month's snapshot -#}
        {%- set covered_moved = run_query_once(
            'select coalesce(min(occurred_at)' ~ within.format('min(occurred_at)') ~ ', false) from '
            ~ graph_model_relation('stg_billing__subscription_events')
        ).columns[0].values()[0] -%}
        {%- do recomputed.update({
            'from_month': moved_month if covered_moved else "'" ~ ends[4] ~ "'::date",
        }) -%}
    {%- endif -%}
    {%- do log(this.identifier ~ ': every subscription from ' ~ recomputed.from_month ~ ', '
        ~ found[2] ~ ' more from ' ~ recomputed.moved_from, info=false) -%}
    {{- return(recomputed) -}}
{%- endmacro %}

{#
    The data's last month (int_revenue_months'), as an SQL expression, for a model that reads int_revenue_months
    (ref, so that a unit test's given months answer it).
#}
{% macro data_last_month_sql() -%}
    (select max(month) from {{ ref('int_revenue_months') }})
{%- endmacro %}

{#
    A condition on a subscription id (an SQL expression): the run may recompute a month of that subscription
    (`recomputed`: subscription_mrr_recomputed's). Implied
    by is_subscription_month_recomputed; on the subscription alone, so that a query keeps those subscriptions'
    rows before they meet the months. A from_month after the data's last month (a day the end moves within its
    month: every subscription from the month after) recomputes no month of any subscription by itself.
#}
{% macro is_subscription_recomputed(recomputed, subscription_id) -%}
    (
        {{ recomputed.from_month }} <= {{ data_last_month_sql() }}
        or {{ subscription_id }} = any({{ recomputed.touched }})
        or {{ subscription_id }} = any({{ recomputed.moved }})
    )
{%- endmacro %}

{#
    A condition on a subscription id and a month (SQL expressions): the run recomputes that subscription month
    (`recomputed`: subscription_mrr_recomputed's).
#}
{% macro is_subscription_month_recomputed(recomputed, subscription_id, month) -%}
    (
        {{ month }} >= {{ recomputed.from_month }}
        or {{ subscription_id }} = any({{ recomputed.touched }})
        or ({{ month }} >= {{ recomputed.moved_from }} and {{ subscription_id }} = any({{ recomputed.moved }}))
    )
{%- endmacro %}

{#
    The first month of a subscription the run recomputes, or a month of it when that is later ('infinity' when it
    recomputes none of its months).
#}
{% macro first_subscription_month_recomputed(recomputed, subscription_id, month) -%}
    case
        when {{ subscription_id }} = any({{ recomputed.touched }}) then {{ month }}
        when {{ subscription_id }} = any({{ recomputed.moved }})
            then greatest({{ month }}, least({{ recomputed.from_month }}, {{ recomputed.moved_from }}))
        else greatest({{ month }}, {{ recomputed.from_month }})
    end
{%- endmacro %}

{#
    Pre-hook: the rows the run replaces. In an incremental run, those subscription_mrr_recomputed names; when the
    model recomputes everything in place (new code, settings or inputs every row reads), every row.
#}
{% macro delete_subscription_months_recomputed() -%}
    {%- if is_incremental_run() -%}
        {%- set recomputed = subscription_mrr_recomputed(subscription_mrr_plan()) -%}
        delete from {{ this }}
        {%- if recomputed is not none %}
        where {{ is_subscription_month_recomputed(recomputed, 'subscription_id', 'month') }}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}
