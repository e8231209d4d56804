{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_customer_inputs_recomputed(with_customers=true) }}",
        post_hook="{{ record_incremental_state() }}",
    )
}}
{#
    The classified customer input with who said it: the customer's segment and acquisition channel.
    Paying customers take both from int_customers_acquired; prospects (deal blocker notes on deals that never
    closed) take them from their CRM company; input that matches no known company is segment 'unknown',
    channel 'UNKNOWN'.

    Incremental (macros/customer_inputs_incremental.sql): a daily run recomputes the inputs the intermediate
    models recomputed since this mart's last build, and those of customers whose segment, channel or paying status
    changed (product_input_changed_customers); the pre-hook deletes their rows, the body appends them again. A
    schema change fails (on_schema_change): a changed contract changes the fingerprint, and the hook drops the
    table for dbt to create it again.
#}
{%- set keys = customer_inputs_keys(with_customers=true) -%}
with

inputs as (
    select * from {{ ref('int_customer_inputs_classified') }}
    {%- if keys is not none %}
    where {{ is_key_of_kind_in(keys, 'input_source', 'source_id') | indent(4) }}
    {%- endif %}
),

customers as (
    select customer_key, segment, acquisition_channel
    from {{ ref('int_customers_acquired') }}
),

companies as (
    select 'crm:' || company_id as customer_key, segment, acquisition_channel
    from {{ ref('stg_crm__companies') }}
),

final as (
    select
        inputs.input_source,
        inputs.source_id,
        inputs.customer_key,
        customers.customer_key is not null as is_paying_customer,
        coalesce(customers.segment, companies.segment, 'unknown') as segment,
        coalesce(customers.acquisition_channel, companies.acquisition_channel, 'UNKNOWN') as acquisition_channel,
        inputs.occurred_at,
        inputs.month,
        inputs.input_class,
        inputs.product_area,
        inputs.matched_rule,
        inputs.text
    from inputs
    left join customers
        on inputs.customer_key = customers.customer_key
    left join companies
        on inputs.customer_key = companies.customer_key
)

select
    input_source,
    source_id,
    customer_key,
    is_paying_customer,
    segment,
    acquisition_channel,
    occurred_at,
    month,
    input_class,
    product_area,
    matched_rule,
    text
from final
