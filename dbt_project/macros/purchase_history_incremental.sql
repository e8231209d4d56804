{#
    int_customer_purchase_history rebuilds, on a daily run, only the customers whose one-off purchases something
    new touched (macros/incremental_by_key.sql says how the batch ledger decides what is new), keyed by
    customer_key.

    A customer's row follows from their purchases (int_purchases_netted) up to the as-of date. A run recomputes
    every customer
    - of an invoice int_purchases_netted's rules touch since this model's last build, or of a billing customer
      identity resolution moved since (customers_of_invoices_touched);
    - with a purchase dated after the as-of date of the model's last build (its state's horizon) and on or before
      the new one: a $0 purchase can come after the latest paid invoice, which dates the as-of, and be no touched
      invoice when the as-of date moves past it.
    Everything is recomputed when the as-of date moved back (a purchase after it would still count) or turned
    null (no paid invoice is left), when int_purchases_netted was rebuilt whole since, or for new code or settings
    (the fingerprint, which holds var ltv_as_of too). int_customers_summarised reads the as-of date this model
    was built for (purchase_history_built_as_of_sql), so the two always agree.
#}

{#
    The as-of date of int_customers_summarised and int_customer_purchase_history, as a scalar SQL expression (a
    date): var ltv_as_of, else the reporting date (var as_of), else the day of the latest paid invoice.
#}
{% macro purchase_history_as_of_sql() -%}
    {%- set as_of = pinned_ltv_as_of() -%}
    {%- if as_of -%}
        '{{ as_of }}'::date
    {%- else -%}
        (select {{ local_date('max(created_at)') }} from {{ ref('int_invoices_netted') }})
    {%- endif -%}
{%- endmacro %}

{# The as-of date a var pins (ltv_as_of, else the reporting date as_of), or none. #}
{% macro pinned_ltv_as_of() -%}
    {{- return(var('ltv_as_of', none) or reporting_as_of()) -}}
{%- endmacro %}

{% macro purchase_history_digest_sql() -%}
    select 'ltv_as_of={{ var("ltv_as_of", "") }}'
{%- endmacro %}

{# What a run does (incremental_plan); var ltv_as_of is part of the fingerprint. #}
{% macro purchase_history_plan() -%}
    {%- if not is_incremental_run() -%}{{- return(incremental_plan()) -}}{%- endif -%}
    {{- return(incremental_plan(
        recompute_everything_if=[
            'coalesce(last.as_of > now.as_of, last.as_of is distinct from now.as_of) from (select horizon::date'
            ~ ' as as_of from ' ~ incremental_state_relation() ~ ' where model = ' ~ incremental_state_key_sql()
            ~ ') as last cross join (select ' ~ purchase_history_as_of_sql() ~ ' as as_of) as now',
        ],
        rebuilt_upstream=['int_purchases_netted'],
        recompute_reason='the as of date moved back or the purchases were rebuilt whole',
        digest_sql=purchase_history_digest_sql(),
    )) -}}
{%- endmacro %}

{# The customers the run recomputes (a text[] literal), or none outside an incremental run: every customer. #}
{% macro purchase_history_keys() -%}
    {%- set plan = purchase_history_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {%- set dated -%}
        select customer_key from {{ graph_model_relation('int_purchases_netted') }}
        where purchased_on > {{ "'" ~ plan.horizon ~ "'::date" if plan.horizon else "'-infinity'::date" }}
            and purchased_on <= {{ purchase_history_as_of_sql() }}
    {%- endset -%}
    {#- the first query as int_customer_revenue asks it: built in the same runs, the two share its answer -#}
    {{- return(incremental_keys_of([customers_of_invoices_touched(plan), dated], 'text')) -}}
{%- endmacro %}

{#
    The as-of date int_customer_purchase_history was last built for, as a scalar SQL expression (a date): the
    var when given (a backtest's ltv_as_of, a pinned reporting date, a unit test), else its state's horizon, so
    that int_customers_summarised never measures ages to a date whose purchases the history has not counted (a
    build that refreshed int_invoices_netted but not the history).
#}
{% macro purchase_history_built_as_of_sql() -%}
    {%- if pinned_ltv_as_of() or not execute -%}
        {{- purchase_history_as_of_sql() -}}
    {%- else -%}
        {%- set node = graph.nodes['model.' ~ project_name ~ '.int_customer_purchase_history'] -%}
        (
            select horizon::date from {{ incremental_state_schema(node.schema) }}.incremental_state
            where model = '{{ node.alias }}'
        )
    {%- endif -%}
{%- endmacro %}
