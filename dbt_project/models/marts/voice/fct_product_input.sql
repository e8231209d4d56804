{#
    The classified customer input with who said it: the customer's segment and acquisition channel.
    Paying customers take both from int_customers_acquired; prospects (deal blocker notes on deals that never
    closed) take them from their CRM company; input that matches no known company is segment 'unknown',
    channel 'UNKNOWN'.
#}
with

inputs as (
    select * from {{ ref('int_customer_inputs_classified') }}
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
