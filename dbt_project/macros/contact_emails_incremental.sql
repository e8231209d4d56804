{#
    int_contact_emails rebuilds, on a daily run, only the emails of the contacts it stages
    (macros/incremental_by_key.sql says how the batch ledger decides what is new), keyed by email: each one's email
    now, and the emails whose rows name one of them among their contacts, those they carried before (a contact
    exported with another email, or without its company, leaves the row of its old one). Everything is recomputed
    when the contacts were re-staged whole since its last build.
#}

{% macro contact_emails_plan() -%}
    {{- return(staged_inputs_plan('int_contact_emails')) -}}
{%- endmacro %}

{# The emails the run recomputes (a text[] literal), or none outside an incremental run: every email. #}
{% macro contact_emails_keys() -%}
    {%- set plan = contact_emails_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {%- set staged -%}
        select contact_id, email from {{ graph_model_relation('stg_crm__contacts') }} where {{ staged_in(plan) }}
    {%- endset -%}
    {{- return(keys_now_and_before(staged, 'select email from staged', 'email', 'contact_ids', 'contact_id')) -}}
{%- endmacro %}
