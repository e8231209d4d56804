{#
    The line items nested in Stripe invoices (the invoice's `lines.data[]`, which the loader keeps as the array
    `lines`), one row per line object in the column `line`: for `cross join {{ nested_invoice_lines(...) }} as x`.
    A `lines` value that is not an array (a malformed record, kept in raw with the rest of its invoice) gives no
    rows rather than failing the build, and an element that is not an object is skipped; one place for both
    guards, shared by the staging of line items and the subscriptions an incremental run recomputes.
#}
{% macro nested_invoice_lines(lines) -%}
    lateral (
        select elements.element as line
        from jsonb_array_elements(
            case when jsonb_typeof({{ lines }}) = 'array' then {{ lines }} else '[]'::jsonb end
        ) as elements (element)
        where jsonb_typeof(elements.element) = 'object'
    )
{%- endmacro %}
