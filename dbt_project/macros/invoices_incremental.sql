{#
    int_invoices_converted rebuilds, on a daily run, only the invoices something new touched
    (macros/incremental_by_key.sql says how the batch ledger decides what is new).

    An invoice is touched by a new or re-exported invoice record (its nested lines travel with it), by a flat
    line item record naming it, and by a new or withdrawn FX rate dated on or before the invoice's day: the rate
    of a day, or the latest earlier one, converts it, so a rate dated d can change every invoice from day d on.
    Those are taken from a day before d (an invoice's day is a day of the reporting time zone, which starts
    less than a day before or after UTC's). A batch the raw gate failed touches the same rows: they just left
    staging. A line item belongs to one invoice for life (Stripe's il_ ids name a line of one invoice), so a
    line's record always names the invoice whose service period it changes.
#}

{% macro invoices_touched(plan) -%}
    {%- set in_run = '_batch_id in (select batch_id from incremental_batches)' -%}
    with incremental_batches as ({{ incremental_batches_sql(plan) }}),
    rates_from as (
        select min(rate_date) - 1 as rate_day from {{ raw_relation('billing', 'fx_rates') }} where {{ in_run }}
    )
    select id from {{ raw_relation('billing', 'invoices') }} where {{ in_run }}
    union all
    select invoice from {{ raw_relation('billing', 'invoice_line_items') }} where {{ in_run }}
    union all
    select invoices.id
    from {{ raw_relation('billing', 'invoices') }} as invoices
    inner join rates_from on invoices.created >= extract(epoch from rates_from.rate_day::timestamp)
    where invoices._batch_id <= {{ plan.through }}
{%- endmacro %}

{#
    Pre-hook: the rows the run replaces. In an incremental run, every touched invoice's (the body recomputes
    those still in staging; one a failed batch withdrew stays deleted); when the model recomputes everything in
    place (new code or settings), every row.
#}
{% macro delete_invoices_recomputed() -%}
    {%- if execute and this is not none and is_incremental() -%}
        {%- set plan = incremental_plan() -%}
        delete from {{ this }}
        {%- if plan.incremental %}
        where invoice_id = any({{ incremental_keys(invoices_touched(plan), 'text') }})
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{#
    int_invoices_netted's touched invoices: int_invoices_converted's (over this model's own batches), those a
    new or withdrawn refund names, directly or through its charge (every copy of the refund and of the charge:
    an older copy may have named another invoice), and those of a new or withdrawn charge, since a refund
    without an invoice goes to its charge's. And the invoices whose customer the identity now resolves to
    another customer_key, or no longer resolves (int_customer_identity is a table rebuilt every run: compared
    with the rows kept here, not read from batches), or whose billing customer a new batch brings (identity
    may now hold it, so its invoices join).
#}
{% macro invoices_netted_touched(plan) -%}
    {%- set in_run = '_batch_id in (select batch_id from incremental_batches)' -%}
    {%- set loaded = '_batch_id <= ' ~ plan.through -%}
    {%- set refunds = raw_relation('billing', 'refunds') -%}
    {%- set charges = raw_relation('billing', 'charges') -%}
    with incremental_batches as ({{ incremental_batches_sql(plan) }}),
    run_refunds as (
        select id from {{ refunds }} where {{ in_run }}
    ),
    run_charges as (
        select id from {{ charges }} where {{ in_run }}
        union
        select charge from {{ refunds }} where {{ loaded }} and id in (select id from run_refunds)
    )
    select invoice_id from ({{ invoices_touched(plan) }}) as converted (invoice_id)
    union all
    select invoice from {{ refunds }} where {{ loaded }} and id in (select id from run_refunds)
    union all
    select invoice from {{ charges }} where {{ loaded }} and id in (select id from run_charges)
    union all
    select id from {{ raw_relation('billing', 'invoices') }}
    where {{ loaded }} and customer in (select id from {{ raw_relation('billing', 'customers') }} where {{ in_run }})
    union all
    select kept.invoice_id
    from {{ this }} as kept
    left join {{ ref('int_customer_identity') }} as identity
        on identity.source_system = 'billing_customer' and kept.billing_customer_id = identity.source_id
    where identity.customer_key is distinct from kept.customer_key
{%- endmacro %}

{# Pre-hook of int_invoices_netted: as delete_invoices_recomputed, with that model's touched invoices. #}
{% macro delete_invoices_netted_recomputed() -%}
    {%- if execute and this is not none and is_incremental() -%}
        {%- set plan = incremental_plan() -%}
        delete from {{ this }}
        {%- if plan.incremental %}
        where invoice_id = any({{ incremental_keys(invoices_netted_touched(plan), 'text') }})
        {%- endif %}
    {%- endif -%}
{%- endmacro %}
