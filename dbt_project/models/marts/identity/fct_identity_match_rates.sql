with

identities as (
    select source_system, match_method from {{ ref('int_customer_identity') }}
),

counted as (
    select source_system, match_method, count(*) as records
    from identities
    group by source_system, match_method
),

final as (
    select
        source_system,
        match_method,
        records::integer as records,
        sum(records) over (partition by source_system)::integer as source_records,
        round(100.0 * records / sum(records) over (partition by source_system), 2)::numeric(5, 2)
            as share_of_source_pct,
        match_method <> 'unmatched' as is_matched
    from counted
)

select source_system, match_method, records, source_records, share_of_source_pct, is_matched from final
