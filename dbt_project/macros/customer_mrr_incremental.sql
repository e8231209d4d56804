{#
    int_customer_mrr_monthly and fct_mrr_movements rebuild, on a daily run, only the customer months something new
    can change (macros/incremental_by_key.sql says how the batch ledger decides what is new), keyed by
    (customer_key, month).

    A customer month follows from the customer's subscription months (int_subscription_mrr_monthly, incremental
    itself: macros/subscription_mrr_incremental.sql), the billing customers identity resolution gives the
    customer, and whole-customer facts every row of the customer carries: its cohort month, segment and
    acquisition channel. A run recomputes:
    - every month of each customer
      - one of whose subscriptions a record in the run's batches names (subscriptions_touched; Stripe never moves
        a subscription to another customer);
      - that gained or lost a billing customer: the customer a changed billing identity record has now, and every
        one it had since the model's last build (macros/row_changes.sql);
      - whose facts, as computed now, differ from those its rows carry, or that gained or lost every row (a new or
        lost customer, another segment or channel, a new lowest plan segment);
    - the months of each customer one of whose subscriptions' months new data can change without a record of it
      (subscription_mrr_recomputed: the data's end moved, an FX rate changed), from the earliest such month;
    - every customer's months after the month that held the data's earlier end, and that month when it turned
      complete or partial (each row says whether its month is partial);
    - everything when an input every subscription month reads changed (subscription_mrr_digest_sql), or the
      code or settings did.
    fct_mrr_movements also reads the month before the first recomputed one (its opening MRR). Its plan is its
    own: its rows are compared with its own facts, its batches are those since its own last build, and it
    recomputes everything when int_customer_mrr_monthly did since then (a mart's state cannot hold the digest:
    macros/reuse_retired_marts.sql compares fingerprints before any input is built).
#}

{#
    The digest reads tables int_customer_mrr_monthly does not ref (prices, products, coupons, events), so it is
    rendered only where dbt resolves refs from the whole graph: in an incremental run, not in a unit test.
#}
{% macro customer_mrr_plan() -%}
    {%- if not is_incremental_run() -%}
        {{- return(incremental_plan()) -}}
    {%- endif -%}
    {{- return(incremental_plan(digest_sql=subscription_mrr_digest_sql())) -}}
{%- endmacro %}

{% macro mrr_movements_plan() -%}
    {{- return(incremental_plan(
        rebuilt_upstream=['int_customer_mrr_monthly'], recompute_reason='int_customer_mrr_monthly recomputed everything'
    )) -}}
{%- endmacro %}

{#
    Each customer's whole-customer facts, as int_customer_mrr_monthly's rows carry them: the cohort month (the first
    month-end at which one of its subscriptions had MRR > 0), the segment (int_customers_acquired's, or else the
    lowest plan segment of a subscription with MRR > 0) and the acquisition channel. The subscription months are
    reduced per billing customer before identity joins them: 0.15 s at 100,000 customers, against 1.6 s through
    the customer-month sums.
#}
{% macro customer_mrr_facts_sql() -%}
    with

    billing_customer_firsts as (
        select billing_customer_id, min(month) as cohort_month, min(plan_segment) as plan_segment
        from {{ ref('int_subscription_mrr_monthly') }}
        where mrr > 0
        group by billing_customer_id
    ),

    customer_firsts as (
        select
            identities.customer_key,
            min(billing_customer_firsts.cohort_month) as cohort_month,
            min(billing_customer_firsts.plan_segment) as plan_segment
        from billing_customer_firsts
        inner join {{ ref('int_customer_identity') }} as identities
            on
                identities.source_system = 'billing_customer'
                and billing_customer_firsts.billing_customer_id = identities.source_id
        group by identities.customer_key
    )

    select
        customer_firsts.customer_key,
        customer_firsts.cohort_month,
        coalesce(nullif(customers_acquired.segment, 'unknown'), customer_firsts.plan_segment, 'unknown') as segment,
        coalesce(customers_acquired.acquisition_channel, 'UNKNOWN') as acquisition_channel
    from customer_firsts
    left join {{ ref('int_customers_acquired') }} as customers_acquired
        on customer_firsts.customer_key = customers_acquired.customer_key
{%- endmacro %}

{#
    Each customer's facts as the rows of `relation` (int_customer_mrr_monthly when none) carry them, from its last
    month (every customer has a row there: the rows run densely through the data's last month).
#}
{% macro customer_facts_built_sql(relation=none) -%}
    {%- set relation = ref('int_customer_mrr_monthly') if relation is none else relation -%}
    select customer_key, cohort_month, segment, acquisition_channel
    from {{ relation }}
    where month = (select max(month) from {{ relation }})
{%- endmacro %}

{#
    What an incremental run recomputes: `customers` (a text[] literal), whose every month, `from_month` (a date
    literal), from which every customer's months, and `moved` (text[]), whose months from `moved_from` (date): the
    customers of the subscriptions subscription_mrr_recomputed moves; none outside an incremental run (everything is
    computed). Every customer's row of a month that turned complete or partial changes (is_partial_month).
    `current_facts`: a query of each customer's facts (customer_key, cohort_month, segment, acquisition_channel)
    as this run builds them, compared with those the model's rows carry; `plan`: the model's.
#}
{% macro customer_mrr_recomputed(current_facts, plan) -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {%- set subscriptions = subscription_mrr_recomputed(plan) -%}
    {%- set touched -%}
        {{ customers_of_subscriptions(subscriptions.touched) }}
        union all
        {{ billing_customers_moved_since(plan.last_built_at) }}
        union all
        select coalesce(current_facts.customer_key, built.customer_key)
        from ({{ current_facts }}) as current_facts
        full join ({{ customer_facts_built_sql(this) }}) as built
            on current_facts.customer_key = built.customer_key
        where
            (current_facts.cohort_month, current_facts.segment, current_facts.acquisition_channel)
            is distinct from (built.cohort_month, built.segment, built.acquisition_channel)
    {%- endset -%}
    {%- set from_month = subscriptions.from_month if subscriptions.month_closed is none else "'" ~ run_query_once(
        'select least(' ~ subscriptions.from_month ~ ', ' ~ subscriptions.month_closed ~ ')::text'
    ).columns[0].values()[0] ~ "'::date" -%}
    {%- set recomputed = {
        'customers': incremental_keys(touched, 'text'),
        'from_month': from_month,
        'moved': incremental_keys(customers_of_subscriptions(subscriptions.moved), 'text'),
        'moved_from': subscriptions.moved_from,
    } -%}
    {%- do log(this.identifier ~ ': every customer from ' ~ recomputed.from_month ~ ', the moved ones from '
        ~ recomputed.moved_from, info=false) -%}
    {{- return(recomputed) -}}
{%- endmacro %}

{# The customers (keys, as a query) of the subscriptions of `subscriptions` (a text[] literal). #}
{% macro customers_of_subscriptions(subscriptions) -%}
    {%- set billing_customers -%}
        select billing_customer_id from {{ graph_model_relation('stg_billing__subscriptions') }}
        where subscription_id = any({{ subscriptions }})
    {%- endset -%}
    {{ customers_of_billing_customers(billing_customers) }}
{%- endmacro %}

{# Pre-hook: the rows the run replaces; every row when it recomputes everything in place. #}
{% macro delete_customer_months_recomputed(current_facts, plan) -%}
    {{ delete_customer_months(customer_mrr_recomputed(current_facts, plan)) }}
{%- endmacro %}

{#
    Pre-hook of a customer-month model: the rows a run replaces (`recomputed`: as customer_mrr_recomputed gives
    them; none: every row).
#}
{% macro delete_customer_months(recomputed) -%}
    {%- if is_incremental_run() -%}
        delete from {{ this }}
        {%- if recomputed is not none %}
        where {{ is_customer_month_recomputed(recomputed) }}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{#
    A condition on a customer key (an SQL expression): the run may recompute a month of that customer. Implied by
    is_customer_month_recomputed; on the customer alone, so that a query keeps those customers before they meet
    the months (is_subscription_recomputed says why the months recomputed for every customer count only when they
    start at or before the data's last month).
#}
{% macro is_customer_recomputed(recomputed, customer_key) -%}
    (
        {{ recomputed.from_month }} <= {{ data_last_month_sql() }}
        or {{ customer_key }} = any({{ recomputed.customers }})
        or {{ customer_key }} = any({{ recomputed.moved }})
    )
{%- endmacro %}

{# A condition on a customer key and a month (SQL expressions): the run recomputes that customer month. #}
{% macro is_customer_month_recomputed(recomputed, customer_key='customer_key', month='month') -%}
    (
        {{ month }} >= {{ recomputed.from_month }}
        or {{ customer_key }} = any({{ recomputed.customers }})
        or ({{ month }} >= {{ recomputed.moved_from }} and {{ customer_key }} = any({{ recomputed.moved }}))
    )
{%- endmacro %}
