{#-
    A Stripe amount (an integer in the currency's minor unit) in the currency's major unit.

    Stripe's API states every amount in the currency's smallest unit (docs.stripe.com/currencies, "Minor units in
    API amounts"): 1000 is 10.00 USD, but 500 is ¥500 in a zero-decimal currency and 5120 is 5.120 KWD in a
    three-decimal one. Stripe's own lists decide, not ISO 4217 alone: ISK, HUF and TWD stay two-decimal in Stripe's
    API (an ISK amount of 100 is 1 króna) and MGA is zero-decimal there. Stripe requires a three-decimal amount's
    last digit to be 0, so two decimals hold every amount exactly. The one place this rule lives.
-#}

{% macro minor_units_per_major(currency) -%}
    case
        when lower({{ currency }}) in ('bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf') then 1
        when lower({{ currency }}) in ('bhd', 'jod', 'kwd', 'omr', 'tnd') then 1000
        else 100
    end
{%- endmacro %}

{% macro from_minor_units(amount, currency, type='numeric(14, 2)') -%}
    ({{ amount }} / {{ minor_units_per_major(currency) }}::numeric)::{{ type }}
{%- endmacro %}
