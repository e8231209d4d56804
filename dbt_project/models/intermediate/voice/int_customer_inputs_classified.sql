{#
    Each piece of customer input put in one of the five classes of product input (docs/metrics.md: fault
    correction, necessity, market-driven, opportunistic, responsiveness) and, when its text names one, a
    product area, by the rules in the seed product_input_rules (maintained by product ops, not in code).

    How a rule matches: it applies to its input_source, or to every source when input_source is '*';
    match_on 'tag' matches when the input carries the tag (case-insensitive; help-desk tickets carry their
    tags plus type:<ticket type>), match_on 'text_pattern' when the text matches the PostgreSQL regular
    expression case-insensitively (~*). A rule sets a class, a product area, or both.
    Which rule wins: among matching rules that set a class, the lowest priority number (ties: the first
    rule_id in alphabetical order); the same, separately, for the product area. No class rule matches:
    input_class 'unclassified' and matched_rule null. No area rule matches: product_area null.
#}
with

inputs as (
    select * from {{ ref('int_customer_inputs_collected') }}
),

rules as (
    select
        rule_id,
        lower(trim(input_source)) as input_source,
        lower(trim(match_on)) as match_on,
        pattern,
        nullif(trim(input_class), '') as input_class,
        nullif(trim(product_area), '') as product_area,
        priority
    from {{ ref('product_input_rules') }}
),

matches as (
    select
        inputs.input_source,
        inputs.source_id,
        rules.rule_id,
        rules.input_class,
        rules.product_area,
        rules.priority
    from inputs
    inner join rules
        on (rules.input_source = '*' or rules.input_source = inputs.input_source)
        and (
            (rules.match_on = 'tag' and lower(trim(rules.pattern)) = any(inputs.tags))
            or (rules.match_on = 'text_pattern' and inputs.input_text ~* rules.pattern)
        )
),

class_matches as (
    select distinct on (input_source, source_id)
        input_source,
        source_id,
        rule_id,
        input_class
    from matches
    where input_class is not null
    order by input_source, source_id, priority, rule_id
),

area_matches as (
    select distinct on (input_source, source_id)
        input_source,
        source_id,
        product_area
    from matches
    where product_area is not null
    order by input_source, source_id, priority, rule_id
),

classified as (
    select
        inputs.input_source,
        inputs.source_id,
        inputs.customer_key,
        inputs.occurred_at,
        inputs.month,
        inputs.input_text as text,
        coalesce(class_matches.input_class, 'unclassified') as input_class,
        area_matches.product_area,
        class_matches.rule_id as matched_rule
    from inputs
    left join class_matches
        on inputs.input_source = class_matches.input_source
        and inputs.source_id = class_matches.source_id
    left join area_matches
        on inputs.input_source = area_matches.input_source
        and inputs.source_id = area_matches.source_id
)

select
    input_source,
    source_id,
    customer_key,
    occurred_at,
    month,
    text,
    input_class,
    product_area,
    matched_rule
from classified
