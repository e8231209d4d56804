{#
    One row per help-desk ticket with the month it was opened and the customer segment of its organization
    (through int_customer_identity): the driver that allocates the support team's cost to segments. A ticket
    whose organization matches no paying customer (or that has none) is in segment 'unknown'.
#}
with

tickets as (
    -- deleted tickets are left out, as Zendesk's reporting leaves them out
    select ticket_id, created_at, organization_id from {{ ref('stg_support__tickets') }}
    where not is_deleted
),

organizations as (
    select source_id as organization_id, customer_key
    from {{ ref('int_customer_identity') }}
    where source_system = 'support_organization'
),

customers as (
    select customer_key, segment from {{ ref('int_customers_acquired') }}
),

segmented as (
    select
        tickets.ticket_id,
        {{ local_month('tickets.created_at') }} as ticket_month,
        organizations.customer_key,
        coalesce(customers.segment, 'unknown') as segment
    from tickets
    left join organizations
        on tickets.organization_id::text = organizations.organization_id
    left join customers
        on organizations.customer_key = customers.customer_key
)

select * from segmented
