{#
    The health bands of fct_customer_health, worst first, as rows (health_band, band_order): the marts that show
    every band, an empty one included, lay their rows out from this one list.
#}
{% macro health_bands() -%}
    select * from (values ('at_risk', 1), ('watch', 2), ('healthy', 3)) as bands (health_band, band_order)
{%- endmacro %}
