{#
    One row per month and customer segment with the help-desk tickets opened: the driver that allocates the
    support team's cost to segments (int_costs_allocated_to_segments). A ticket takes its organization's segment
    (through int_customer_identity); one whose organization matches no paying customer, or that has none, is in
    segment 'unknown'. Counted here, not kept per ticket: the allocation reads only the counts, and a table of
    every ticket (755,679 rows at 100,000 customers) was written and tested in full every day.
#}
with

tickets as (
    -- deleted tickets are left out, as Zendesk's reporting leaves them out
    select created_at, organization_id from {{ ref('stg_support__tickets') }}
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
        {{ local_month('tickets.created_at') }} as month,
        coalesce(customers.segment, 'unknown') as segment
    from tickets
    left join organizations
        on tickets.organization_id::text = organizations.organization_id
    left join customers
        on organizations.customer_key = customers.customer_key
)

select month, segment, count(*)::integer as tickets
from segmented
group by month, segment
