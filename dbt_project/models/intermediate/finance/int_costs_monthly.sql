{#
    One row per month and ledger team: finance's department cost ledger summed to the month, USD, with the cost
    category each team's cost belongs to. Sales and marketing (outside ad spend) are acquisition cost, support
    and customer success retention cost, the platform team's hosting and third-party fees cost of revenue.
    Dense: every month between the first and last ledger month has a row for every team, 0 when nothing booked.
#}
with

ledger as (
    select * from {{ ref('stg_crm__team_costs') }}
),

teams as (
    select * from (
        values
        ('sales', 'acquisition'),
        ('marketing', 'acquisition'),
        ('support', 'retention'),
        ('customer_success', 'retention'),
        ('platform', 'cost_of_revenue')
    ) as categories (team, cost_category)
),

months as (
    {{ month_spine('select cost_month as month from ledger') }}
),

ledger_monthly as (
    select
        cost_month as month,
        team,
        sum(cost_amount) as cost_amount
    from ledger
    group by 1, 2
),

final as (
    select
        months.month,
        teams.team,
        teams.cost_category,
        coalesce(ledger_monthly.cost_amount, 0)::numeric(18, 2) as cost_usd
    from months
    cross join teams
    left join ledger_monthly
        on months.month = ledger_monthly.month and teams.team = ledger_monthly.team
)

select * from final
