{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['input_source', 'source_id'], 'unique': True}],
        on_schema_change='sync_all_columns',
        pre_hook=["{{ hash_joins_only() }}", "{{ delete_customer_inputs_recomputed() }}"],
        post_hook="{{ record_incremental_state() }}",
    )
}}
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

    Length (213 lines, over the style's ~150): One model: the text and tag rules for class and product area run
    over the same inputs and the first rule by priority wins; apart, every rule set would need the whole input
    table again.

    Incremental (macros/customer_inputs_incremental.sql): a daily run classifies the inputs
    int_customer_inputs_collected recomputed since this model's last run, and keeps the others; new rules change
    the fingerprint, which classifies everything again.
#}
{%- set keys = customer_inputs_keys() -%}
with

inputs as (
    select * from {{ ref('int_customer_inputs_collected') }}
    {%- if keys is not none %}
    where {{ is_key_of_kind_in(keys, 'input_source', 'source_id') | indent(4) }}
    {%- endif %}
),

rules as materialized (
    select
        rule_id,
        lower(trim(input_source)) as input_source,
        lower(trim(match_on)) as match_on,
        pattern,
        lower(trim(pattern)) as tag,
        nullif(trim(input_class), '') as input_class,
        nullif(trim(product_area), '') as product_area,
        priority
    from {{ ref('product_input_rules') }}
),

-- A text rule's match depends on the input's source and text only, a tag rule's on its source and tags only: each
-- distinct text (and tag set) is matched once, and its inputs look the result up by equality. Matching every input
-- against every rule ran a regular expression per input and rule (one million at 5,000 customers, 3.2 s of the
-- model's 3.5 s); inputs repeat their texts (ticket subjects, survey answers) more often than not.
input_texts as (
    select distinct input_source, input_text
    from inputs
    where input_text is not null
),

input_tag_sets as (
    select distinct input_source, tags
    from inputs
    where cardinality(tags) > 0
),

text_matches as (
    select
        input_texts.input_source,
        input_texts.input_text,
        rules.rule_id,
        rules.input_class,
        rules.product_area,
        rules.priority
    from input_texts
    inner join rules
        on
            (rules.input_source = '*' or input_texts.input_source = rules.input_source)
            and rules.match_on = 'text_pattern'
            and input_texts.input_text ~* rules.pattern
),

tag_matches as (
    select
        input_tag_sets.input_source,
        input_tag_sets.tags,
        rules.rule_id,
        rules.input_class,
        rules.product_area,
        rules.priority
    from input_tag_sets
    inner join rules
        on
            (rules.input_source = '*' or input_tag_sets.input_source = rules.input_source)
            and rules.match_on = 'tag'
            and rules.tag = any(input_tag_sets.tags)
),

text_class_matches as (
    select distinct on (input_source, input_text) input_source, input_text, rule_id, input_class, priority
    from text_matches
    where input_class is not null
    order by input_source, input_text, priority, rule_id
),

text_area_matches as (
    select distinct on (input_source, input_text) input_source, input_text, rule_id, product_area, priority
    from text_matches
    where product_area is not null
    order by input_source, input_text, priority, rule_id
),

tag_class_matches as (
    select distinct on (input_source, tags) input_source, tags, rule_id, input_class, priority
    from tag_matches
    where input_class is not null
    order by input_source, tags, priority, rule_id
),

tag_area_matches as (
    select distinct on (input_source, tags) input_source, tags, rule_id, product_area, priority
    from tag_matches
    where product_area is not null
    order by input_source, tags, priority, rule_id
),

classified as (
    -- of the best text rule and the best tag rule, the first by priority, then rule_id
    select
        inputs.input_source,
        inputs.source_id,
        inputs.customer_key,
        inputs.occurred_at,
        inputs.month,
        inputs.input_text as text,
        coalesce(class_match.input_class, 'unclassified') as input_class,
        area_match.product_area,
        class_match.rule_id as matched_rule
    from inputs
    left join text_class_matches
        on
            inputs.input_source = text_class_matches.input_source
            and inputs.input_text = text_class_matches.input_text
    left join tag_class_matches
        on
            inputs.input_source = tag_class_matches.input_source
            and inputs.tags = tag_class_matches.tags
    left join text_area_matches
        on
            inputs.input_source = text_area_matches.input_source
            and inputs.input_text = text_area_matches.input_text
    left join tag_area_matches
        on
            inputs.input_source = tag_area_matches.input_source
            and inputs.tags = tag_area_matches.tags
    left join lateral (
        select candidates.rule_id, candidates.input_class
        from (
            values
            (
                text_class_matches.input_source is not null,
                text_class_matches.rule_id,
                text_class_matches.input_class,
                text_class_matches.priority
            ),
            (
                tag_class_matches.input_source is not null,
                tag_class_matches.rule_id,
                tag_class_matches.input_class,
                tag_class_matches.priority
            )
        ) as candidates (is_match, rule_id, input_class, priority)
        where candidates.is_match
        order by candidates.priority, candidates.rule_id
        limit 1
    ) as class_match on true
    left join lateral (
        select candidates.product_area
        from (
            values
            (
                text_area_matches.input_source is not null,
                text_area_matches.rule_id,
                text_area_matches.product_area,
                text_area_matches.priority
            ),
            (
                tag_area_matches.input_source is not null,
                tag_area_matches.rule_id,
                tag_area_matches.product_area,
                tag_area_matches.priority
            )
        ) as candidates (is_match, rule_id, product_area, priority)
        where candidates.is_match
        order by candidates.priority, candidates.rule_id
        limit 1
    ) as area_match on true
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
