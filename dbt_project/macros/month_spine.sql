{#
    Every month from the first to the last of `observed` (a query returning a `month` column of first days),
    none skipped: the grid a monthly mart zero-fills, so a month with no activity is a row of zeros rather than
    a gap that a chart or a running total would silently step over.
#}
{% macro month_spine(observed) -%}
    select generate_series(min(month), max(month), interval '1 month')::date as month
    from ({{ observed }}) as observed_months
{%- endmacro %}
