{#
    int_customer_revenue rebuilds, on a daily run, only the customers whose invoices something new touched
    (macros/incremental_by_key.sql says how the batch ledger decides what is new), keyed by customer_key: the
    customers of the invoices int_invoices_netted's rules touch since this model's last build, and those identity
    resolution moved a billing customer from or to (customers_of_invoices_touched). Everything is recomputed when
    int_invoices_netted was rebuilt whole since, or for new code or settings (the fingerprint).
#}

{% macro customer_revenue_plan() -%}
    {{- return(incremental_plan(
        rebuilt_upstream=['int_invoices_netted'],
        recompute_reason='int_invoices_netted was rebuilt whole',
    )) -}}
{%- endmacro %}

{# The customers the run recomputes (a text[] literal), or none outside an incremental run: every customer. #}
{% macro customer_revenue_keys() -%}
    {%- set plan = customer_revenue_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {{- return(incremental_keys(customers_of_invoices_touched(plan), 'text')) -}}
{%- endmacro %}
