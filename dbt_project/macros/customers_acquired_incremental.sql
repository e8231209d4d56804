{#
    int_customers_acquired rebuilds, on a daily run, only the customers whose first payment, segment or channel
    something new may have changed, keyed by customer_key (macros/incremental_by_key.sql says how the batch ledger
    decides what is new): the customers of the billing customers with an invoice record in the run's batches (a
    new, paid or voided invoice; in a batch the raw gate failed, one that just left staging), those identity
    resolution gave a billing customer or took one from since the model's last build
    (billing_customers_moved_since), and the CRM companies staged by this run (segment, channel). Everything is
    recomputed when the companies were re-staged whole since its last build.
#}

{% macro customers_acquired_plan() -%}
    {{- return(incremental_plan(
        rebuilt_upstream=['stg_crm__companies'], recompute_reason='stg_crm__companies was re-staged whole'
    )) -}}
{%- endmacro %}

{# The customers the run recomputes, as a query. #}
{% macro customers_acquired_touched(plan) -%}
    {{ customers_of_billing_customers(billing_customers_of_raw_invoices(plan)) }}
    union all
    {{ billing_customers_moved_since(plan.last_built_at) }}
    union all
    select 'crm:' || company_id from {{ graph_model_relation('stg_crm__companies') }} where {{ staged_in(plan) }}
{%- endmacro %}

{# The customers the run recomputes (a text[] literal), or none outside an incremental run: every customer. #}
{% macro customers_acquired_keys() -%}
    {%- set plan = customers_acquired_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {{- return(incremental_keys(customers_acquired_touched(plan), 'text')) -}}
{%- endmacro %}

{# Post-hook: which customers started or stopped paying or got another segment or channel (macros/row_changes.sql). #}
{% macro record_customers_acquired_changes() -%}
    {%- set scope = keys_scope('customer_key', customers_acquired_keys()) -%}
    {{- record_row_changes(['customer_key'], ['segment', 'acquisition_channel'], scope) -}}
{%- endmacro %}
