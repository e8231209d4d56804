{#
    dbt's relationships test, with one exemption: when the parent is a staging model and holds no rows at all,
    its export is absent (a company that sends charges but not invoices), and the children's references are
    not broken, just unresolvable. Marts get no exemption: an empty dimension under a filled fact is a bug.
    Overrides dbt's default implementation (dispatch looks in the root project first).
#}
{% macro default__test_relationships(model, column_name, to, field) %}

with child as (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select {{ field }} as to_field
    from {{ to }}
)

select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null
{%- if to.schema == 'staging' %}
    and exists (select from {{ to }})
{%- endif %}

{% endmacro %}
