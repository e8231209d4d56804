{#
    int_customer_revenue rebuilds, on a daily run, only the customers whose invoices something new touched
    (macros/incremental_by_key.sql says how the batch ledger decides what is new), keyed by customer_key: the
    customers of the invoices int_invoices_netted's rules touch since this model's last build, and those identity
    resolution moved a billing customer from or to (customers_of_invoices_touched). Everything is recomputed when
    int_invoices_netted was rebuilt whole since, when a settled month's gross margin changed (the digest of
    settled_margin_months), or for new code or settings (the fingerprint).
#}

{% macro customer_revenue_plan() -%}
    {{- return(incremental_plan(
        rebuilt_upstream=['int_invoices_netted'],
        recompute_reason='int_invoices_netted was rebuilt whole or a settled month\'s margin changed',
        digest_sql=customer_revenue_digest_sql(),
    )) -}}
{%- endmacro %}

{# The customers the run recomputes (a text[] literal), or none outside an incremental run: every customer. #}
{% macro customer_revenue_keys() -%}
    {%- set plan = customer_revenue_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {{- return(incremental_keys(customers_of_invoices_touched(plan), 'text')) -}}
{%- endmacro %}

{#
    The months whose gross margin int_customer_revenue prices its invoices at (month, gross_margin_pct): every
    month of int_gross_margin_monthly before its latest one, with a margin. The latest month's margin moves with
    every day of MRR, and a month without one takes the trailing margin, which moves too: fct_customer_lifetime_value
    prices those invoices itself, each build, so that a daily run reads only them and not every invoice.
#}
{% macro settled_margin_months() -%}
    select month, gross_margin_pct
    from {{ ref('int_gross_margin_monthly') }}
    where
        gross_margin_pct is not null
        and month < (select max(month) from {{ ref('int_gross_margin_monthly') }})
{%- endmacro %}

{# The settled months and their margins as one text: a change recomputes every customer. #}
{% macro customer_revenue_digest_sql() -%}
    select coalesce(string_agg(month || '=' || gross_margin_pct, ',' order by month), '')
    from ({{ settled_margin_months() }}) as settled
{%- endmacro %}
