{#
    One row's share of `amount`, split over rows in proportion to `driver`, so that the rows' shares add up to the
    amount to the cent: each row takes the difference of the rounded running totals before and after it
    (`cumulative` is the running sum of `driver` up to and including this row, `total` its sum over the rows).
    Zero when nothing drives the split (`total` = 0); the caller keeps such an amount visible on a row of its own.
#}
{% macro share_to_the_cent(amount, driver, cumulative, total) -%}
    case
        when {{ total }} > 0
            then round({{ amount }} * {{ cumulative }} / {{ total }}, 2)
            - round({{ amount }} * ({{ cumulative }} - {{ driver }}) / {{ total }}, 2)
        else 0
    end
{%- endmacro %}
