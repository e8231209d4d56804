{#
    NPS, CSAT and CES per calendar month and customer segment, with segment 'all' for the whole base.
    Only answered questions count: a response that skipped the NPS question is in no NPS base (it is neither
    a detractor nor a zero). NPS = 100 × (promoters − detractors) ÷ NPS responses, passives in the base;
    CSAT = satisfied (4-5) ÷ CSAT responses; CES = mean effort score (1-7), with the share at 5-7.
#}
with

responses as (
    select * from {{ ref('fct_survey_responses') }}
),

months as (
    {{ month_spine('select month from responses') }}
),

segments as (
    -- the three segments always, so every segment's series is complete; unknown only when it occurs
    select unnest(array['smb', 'mid_market', 'enterprise', 'all']) as segment
    union
    select segment from responses
),

month_segment_grid as (
    select months.month, segments.segment
    from months
    cross join segments
),

monthly as (
    select
        month,
        case when grouping(segment) = 1 then 'all' else segment end as segment,
        count(*) filter (where survey_type = 'nps' and is_nps_answered) as nps_responses,
        count(*) filter (where survey_type = 'nps' and nps_category = 'promoter') as promoters,
        count(*) filter (where survey_type = 'nps' and nps_category = 'passive') as passives,
        count(*) filter (where survey_type = 'nps' and nps_category = 'detractor') as detractors,
        count(*) filter (where survey_type = 'post_ticket' and is_csat_answered) as csat_responses,
        count(*) filter (where survey_type = 'post_ticket' and is_satisfied) as csat_satisfied,
        count(*) filter (where survey_type = 'post_ticket' and is_ces_answered) as ces_responses,
        sum(ces_score) filter (where survey_type = 'post_ticket') as ces_score_sum,
        count(*) filter (where survey_type = 'post_ticket' and is_easy) as ces_easy
    from responses
    group by grouping sets ((month, segment), (month))
),

final as (
    select
        grid.month,
        grid.segment,
        coalesce(monthly.nps_responses, 0)::integer as nps_responses,
        coalesce(monthly.promoters, 0)::integer as promoters,
        coalesce(monthly.passives, 0)::integer as passives,
        coalesce(monthly.detractors, 0)::integer as detractors,
        (case
            when monthly.nps_responses > 0
                then round(100.0 * (monthly.promoters - monthly.detractors) / monthly.nps_responses, 2)
        end)::numeric(5, 2) as nps,
        coalesce(monthly.csat_responses, 0)::integer as csat_responses,
        coalesce(monthly.csat_satisfied, 0)::integer as csat_satisfied,
        (case
            when monthly.csat_responses > 0 then round(1.0 * monthly.csat_satisfied / monthly.csat_responses, 4)
        end)::numeric(5, 4) as csat,
        coalesce(monthly.ces_responses, 0)::integer as ces_responses,
        (case
            when monthly.ces_responses > 0 then round(1.0 * monthly.ces_score_sum / monthly.ces_responses, 4)
        end)::numeric(5, 4) as ces_mean,
        coalesce(monthly.ces_easy, 0)::integer as ces_easy_responses,
        (case
            when monthly.ces_responses > 0 then round(1.0 * monthly.ces_easy / monthly.ces_responses, 4)
        end)::numeric(5, 4) as ces_easy_share
    from month_segment_grid as grid
    left join monthly
        on grid.month = monthly.month and grid.segment = monthly.segment
)

select
    month,
    segment,
    nps_responses,
    promoters,
    passives,
    detractors,
    nps,
    csat_responses,
    csat_satisfied,
    csat,
    ces_responses,
    ces_mean,
    ces_easy_responses,
    ces_easy_share
from final
