{#
    int_customers_summarised rebuilds, on a daily run, only the customers whose one-off purchases something new
    touched (macros/incremental_by_key.sql says how the batch ledger decides what is new), keyed by customer_key.

    A customer's row follows from their purchases (int_purchases_netted) up to the as-of date, and the as-of date
    itself. A run recomputes every customer
    - of an invoice int_purchases_netted's rules touch since this model's last build, or of a billing customer
      identity resolution moved since (customers_of_invoices_touched);
    - with a purchase dated after the as-of date of the model's rows and on or before the new one (a $0 purchase
      can come after the latest paid invoice, which dates the as-of, and be no touched invoice now).
    The as-of date moves every day, so every other row gets the new as_of_date and t_weeks (the post-hook,
    restate_customers_summarised_as_of); nothing else of theirs changes. Everything is recomputed when the as-of
    date moved back (a purchase after it would still count), when int_purchases_netted was rebuilt whole since, or
    for new code or settings (the fingerprint, which holds var ltv_as_of too).
#}

{# The as-of date of int_customers_summarised, as a scalar SQL expression (a date). #}
{% macro customers_summarised_as_of_sql() -%}
    {%- set as_of = var('ltv_as_of', none) or reporting_as_of() -%}
    {%- if as_of -%}
        '{{ as_of }}'::date
    {%- else -%}
        (select {{ local_date('max(created_at)') }} from {{ ref('int_invoices_netted') }})
    {%- endif -%}
{%- endmacro %}

{# Weeks from a first purchase day to the as-of date (SQL expressions, dates): t_weeks. #}
{% macro weeks_since_first_purchase(as_of_date, first_purchase_on) -%}
    (({{ as_of_date }} - {{ first_purchase_on }}) / 7.0)::numeric(12, 6)
{%- endmacro %}

{# What a run does (incremental_plan); var ltv_as_of is part of the fingerprint. #}
{% macro customers_summarised_plan() -%}
    {%- if not is_incremental_run() -%}{{- return(incremental_plan()) -}}{%- endif -%}
    {{- return(incremental_plan(
        recompute_everything_if=[
            '(select max(as_of_date) from ' ~ this ~ ') > ' ~ customers_summarised_as_of_sql(),
        ],
        rebuilt_upstream=['int_purchases_netted'],
        recompute_reason='the as-of date moved back, or int_purchases_netted was rebuilt whole',
        digest_sql=customers_summarised_digest_sql(),
    )) -}}
{%- endmacro %}

{% macro customers_summarised_digest_sql() -%}
    select 'ltv_as_of={{ var("ltv_as_of", "") }}'
{%- endmacro %}

{# The customers the run recomputes (a text[] literal), or none outside an incremental run: every customer. #}
{% macro customers_summarised_keys() -%}
    {%- set plan = customers_summarised_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {%- set touched -%}
        {{ customers_of_invoices_touched(plan) }}
        union all
        -- a purchase the old as-of date left out: one of $0 can come after the latest paid invoice, which dates it
        select customer_key from {{ graph_model_relation('int_purchases_netted') }}
        where purchased_on > (select max(as_of_date) from {{ this }})
            and purchased_on <= {{ customers_summarised_as_of_sql() }}
    {%- endset -%}
    {{- return(incremental_keys(touched, 'text')) -}}
{%- endmacro %}

{# Pre-hook: the rows the run replaces; every row when it recomputes everything in place. #}
{% macro delete_customers_summarised_recomputed() -%}
    {%- if is_incremental_run() -%}
        {%- set customers = customers_summarised_keys() -%}
        delete from {{ this }}
        {%- if customers is not none %}
        where customer_key = any({{ customers }})
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{# Post-hook: the rows the run kept measured at the new as-of date. #}
{% macro restate_customers_summarised_as_of() -%}
    {%- if is_incremental_run() -%}
        update {{ this }} as summarised
        set
            as_of_date = as_of.as_of_date,
            t_weeks = {{ weeks_since_first_purchase('as_of.as_of_date', 'summarised.first_purchase_on') }}
        from (select {{ customers_summarised_as_of_sql() }} as as_of_date) as as_of
        where summarised.as_of_date is distinct from as_of.as_of_date
    {%- endif -%}
{%- endmacro %}
