{#
    Pre-hook of a model whose joins must stay linear in the data although the planner cannot estimate its inputs:
    every join on an equality is planned as a hash join, in the model's own transaction only (set local).

    Staging views dedupe with DISTINCT ON, and through it PostgreSQL keeps no statistics but the key's: a filter
    on any other column (a line's type, an invoice's status, a user's role) is guessed to keep 0.5% of the rows,
    so an input of 50,000 rows is planned as one, and a join with it as a nested loop - or a merge join on one
    of two keys - that reads the other side again for each of its rows: quadratic in the data. At 5,000
    customers int_customer_mrr_monthly spent 300 s in such a loop (30,000 month-end invoice lines, each read
    against all 48,000 invoices). A hash join reads each side once, whatever the estimates. Joins without an
    equality (an instant against the small months table) stay nested loops, the only way to run them; the models
    keep one side of each small.
#}
{% macro hash_joins_only() -%}
    set local enable_nestloop = off;
    set local enable_mergejoin = off
{%- endmacro %}
