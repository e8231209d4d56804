with

monthly_spend as (
    select
        date_trunc('month', spend_date)::date as month,
        channel,
        sum(spend_amount) as spend
    from {{ ref('stg_crm__marketing_spend') }}
    group by 1, 2
),

monthly_new_customers as (
    select
        acquisition_month as month,
        acquisition_channel as channel,
        count(*) as new_customers
    from {{ ref('int_customers_acquired') }}
    group by 1, 2
),

activity as (
    select month, channel from monthly_spend
    union
    select month, channel from monthly_new_customers
),

months as (
    select generate_series(min(month), max(month), interval '1 month')::date as month
    from activity
),

channels as (
    select distinct channel from activity
),

month_channel_grid as (
    select months.month, channels.channel
    from months
    cross join channels
),

final as (
    select
        grid.month,
        grid.channel,
        coalesce(monthly_spend.spend, 0)::numeric(14, 2) as spend,
        coalesce(monthly_new_customers.new_customers, 0)::integer as new_customers,
        (case
            when monthly_new_customers.new_customers > 0
                then round(coalesce(monthly_spend.spend, 0) / monthly_new_customers.new_customers, 2)
        end)::numeric(14, 2) as cac
    from month_channel_grid as grid
    left join monthly_spend
        on grid.month = monthly_spend.month and grid.channel = monthly_spend.channel
    left join monthly_new_customers
        on grid.month = monthly_new_customers.month and grid.channel = monthly_new_customers.channel
)

select month, channel, spend, new_customers, cac from final
