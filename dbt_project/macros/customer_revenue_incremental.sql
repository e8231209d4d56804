{#
    int_customer_revenue rebuilds, on a daily run, only the customers whose invoices something new touched
    (macros/incremental_by_key.sql says how the batch ledger decides what is new), keyed by customer_key: the
    customers of the invoices int_invoices_netted's rules touch since this model's last build, those identity
    resolution moved a billing customer from or to (customers_of_invoices_touched), and those with an invoice in
    a month whose settled margin is not the one the last build priced it at (customers_of_margins_changed).
    Everything is recomputed when int_invoices_netted was rebuilt whole since, or for new code or settings (the
    fingerprint).
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
    {%- if adapter.get_relation(this.database, this.schema, this.identifier ~ '__margins') is none -%}
        {#- a table built before the margins were kept: which months it priced at what is unknown -#}
        {%- do log(this.identifier ~ ': no settled margins recorded, recomputing every customer', info=false) -%}
        {{- return(none) -}}
    {%- endif -%}
    {#- the first query as int_customer_purchase_history asks it: built in the same runs, the two share its answer -#}
    {{- return(incremental_keys_of([customers_of_invoices_touched(plan), customers_of_margins_changed()], 'text')) -}}
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

{#
    The customers with an invoice in a month settled now at another margin than the last build's, settled only now
    (a new month began) or no longer (a month lost its margin): a corrected FX rate or a late cost moves a past
    month's margin.
#}
{% macro customers_of_margins_changed() -%}
    select invoices.customer_key
    from {{ graph_model_relation('int_invoices_netted') }} as invoices
    where invoices.month in ({{ settled_margins_repriced_sql() }})
{%- endmacro %}

{#
    The months whose settled margin now differs from the one int_customer_revenue last priced at (its __margins
    table): another value, settled only now, or no longer. The model's keys and the mart's guard ask it.
#}
{% macro settled_margins_repriced_sql() -%}
    select coalesce(settled.month, priced.month)
    from ({{ settled_margin_months() }}) as settled
    full join {{ graph_model_relation('int_customer_revenue', '__margins') }} as priced
        on settled.month = priced.month
    where settled.gross_margin_pct is distinct from priced.gross_margin_pct
{%- endmacro %}

{#
    Post-hook: the settled margins this build priced the invoices at, beside the model
    (<schema>.int_customer_revenue__margins), in its transaction, for the next run's customers_of_margins_changed.
#}
{% macro record_settled_margins() -%}
    {%- set priced = graph_model_relation(this.identifier, '__margins') -%}
    create table if not exists {{ priced }} (month date primary key, gross_margin_pct numeric(8, 4) not null);
    delete from {{ priced }};
    insert into {{ priced }} (month, gross_margin_pct)
    select month, gross_margin_pct from ({{ settled_margin_months() }}) as settled
{%- endmacro %}

{#
    Pre-hook of fct_customer_lifetime_value, which adds int_customer_revenue's settled sums to the other invoices'
    margin: int_customer_revenue must have priced the settled months at the margins int_gross_margin_monthly holds
    now. A build that refreshed the margins but not int_customer_revenue (a selection without it) would count a
    month settled since in neither model, or a month's old margin; the mart fails instead, naming the fix, and
    nothing is published.
#}
{% macro assert_settled_margins_priced() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set priced = graph_model_relation('int_customer_revenue', '__margins') -%}
    do $$ begin
        if to_regclass('{{ priced }}') is null then
            raise exception 'int_customer_revenue has recorded no settled margins:'
                ' build it before fct_customer_lifetime_value';
        end if;
        -- a statement of its own: PL/pgSQL plans it only once the table is known to exist
        if exists ({{ settled_margins_repriced_sql() }}) then
            raise exception 'int_customer_revenue priced settled months at other gross margins than'
                ' int_gross_margin_monthly holds now: build it before fct_customer_lifetime_value';
        end if;
    end $$
{%- endmacro %}
