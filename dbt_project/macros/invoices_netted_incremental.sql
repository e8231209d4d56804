{#
    int_invoices_netted and int_purchases_netted rebuild, on a daily run, only the invoices something new touched
    (macros/incremental_by_key.sql says how the batch ledger decides what is new), each against its own last build.

    A row is a paid invoice (a one-off purchase), what its refunds took back and its billing customer's customer.
    It follows from the invoice's converted row, its refunds (a refund names its invoice in metadata, else through
    its charge) and the billing customer's identity. A run recomputes the invoices:
    - int_invoices_converted's rule touches (invoices_touched: their records, line items, FX rates), read against
      this model's rows;
    - every version of a refund in the run's batches names, directly or through its charge: its metadata can
      be edited, and the invoice it named before has its refund back;
    - a charge in the run's batches belongs to (its refunds without metadata net from that invoice; Stripe ties a
      charge to one invoice for life);
    - of the billing customers whose identity changed since the last build (row_changes_since), whatever the
      customer now is or whether it has one.
    A batch the raw gate failed names the same records: they just left staging. Everything is recomputed on the
    fingerprint's terms only: int_invoices_converted recomputes everything for new code or settings, which change
    this model's fingerprint too.
#}

{# The invoices the run recomputes, as a query (`converted`: as invoices_touched takes it). #}
{% macro invoices_netted_touched(plan, converted=none) -%}
    {%- set in_run = in_batches('_batch_id', 'select batch_id from incremental_batches') -%}
    {%- set refunds = raw_relation('billing', 'refunds') -%}
    {{ invoices_touched(plan, converted) }}
    union all
    select refunds.invoice
    from {{ refunds }} as refunds
    where refunds.id in (select id from {{ refunds }} where {{ in_run }})
    union all
    select charges.invoice_id
    from {{ graph_model_relation('stg_billing__charges') }} as charges
    where charges.charge_id in (select charge from {{ refunds }} where {{ in_run }})
    union all
    select invoice from {{ raw_relation('billing', 'charges') }} where {{ in_run }}
    union all
    select converted.invoice_id
    from {{ graph_model_relation('int_invoices_converted') }} as converted
    where converted.billing_customer_id in (
        select changed.source_id
        from ({{ row_changes_since('int_customer_identity', plan.last_built_at) }}) as changed
        where changed.source_system = 'billing_customer'
    )
{%- endmacro %}

{#
    The customers whose invoices a run of a model kept by customer (`plan`: its own) must look at, as a query: the
    customer (identity resolution's now) of each invoice int_invoices_netted's rules touch since the model's last
    build (of its record in the run's batches too: one a failed batch withdrew is in no table any more), and the
    customers identity resolution moved a billing customer from or to since (billing_customers_moved_since).
#}
{% macro customers_of_invoices_touched(plan) -%}
    {%- set converted = graph_model_relation('int_invoices_converted') -%}
    {%- set billing_customers -%}
        select billing_customer_id from {{ converted }}
        where invoice_id in ({{ invoices_netted_touched(plan, converted) }})
        union all
        -- an invoice a batch the raw gate failed withdrew is gone from int_invoices_converted: its record names
        -- the customer it leaves
        {{ billing_customers_of_raw_invoices(plan) }}
    {%- endset -%}
    {{ customers_of_billing_customers(billing_customers) }}
    union all
    {{ billing_customers_moved_since(plan.last_built_at) }}
{%- endmacro %}

{# The customers (keys, as a query) identity resolution gives the billing customers `billing_customers_sql` names. #}
{% macro customers_of_billing_customers(billing_customers_sql) -%}
    select identities.customer_key
    from {{ graph_model_relation('int_customer_identity') }} as identities
    where identities.source_system = 'billing_customer'
        and identities.source_id in (
            {{ billing_customers_sql }}
        )
{%- endmacro %}

{# The billing customers (ids, as a query) of the invoice records in the run's batches (`plan`: the model's). #}
{% macro billing_customers_of_raw_invoices(plan) -%}
    select customer from {{ raw_relation('billing', 'invoices') }}
    where {{ in_batches('_batch_id', incremental_batches_sql(plan)) }}
{%- endmacro %}

{#
    The customers identity resolution gave a billing customer, or took one from, after `since` (a timestamptz
    text), as a query: the customer key each changed billing customer record has now and each one it had
    (macros/row_changes.sql). A model kept by customer recomputes both: the billing customer's records moved
    from one to the other.
#}
{% macro billing_customers_moved_since(since) -%}
    select changed.watched ->> 'customer_key'
    from ({{ row_changes_since('int_customer_identity', since) }}) as changed
    where changed.source_system = 'billing_customer'
    union all
    select replaced.watched ->> 'customer_key'
    from ({{ row_values_replaced_since('int_customer_identity', since) }}) as replaced
    where replaced.source_system = 'billing_customer'
{%- endmacro %}

{# The touched invoices' ids (a text[] literal), or none outside an incremental run: every invoice. #}
{% macro invoices_netted_keys() -%}
    {%- set plan = incremental_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {{- return(incremental_keys(invoices_netted_touched(plan), 'text')) -}}
{%- endmacro %}

{#
    Pre-hook: the rows the run replaces, the touched invoices' (the body appends those still paid and tied to a
    customer); every row when the model recomputes everything in place.
#}
{% macro delete_invoices_netted_recomputed() -%}
    {{- delete_keys_recomputed('invoice_id', invoices_netted_keys()) -}}
{%- endmacro %}
