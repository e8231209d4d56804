{#
    int_company_domains rebuilds, on a daily run, only the domains of the CRM companies it stages
    (macros/incremental_by_key.sql says how the batch ledger decides what is new), keyed by domain: each one's
    domains now, and the domains whose rows name one of them among their claimants, those it claimed before (a
    company exported without an additional domain leaves that domain's row). Everything is recomputed when the
    companies were re-staged whole since its last build, or when the free-mail seed changed (the fingerprint).
#}

{% macro company_domains_plan() -%}
    {{- return(staged_inputs_plan('int_company_domains')) -}}
{%- endmacro %}

{# The domains the run recomputes (a text[] literal), or none outside an incremental run: every domain. #}
{% macro company_domains_keys() -%}
    {%- set plan = company_domains_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {%- set staged -%}
        select company_id, domain, additional_domains from {{ graph_model_relation('stg_crm__companies') }}
        where {{ staged_in(plan) }}
    {%- endset -%}
    {%- set now = 'select domain from staged union all select unnest(additional_domains) from staged' -%}
    {{- return(keys_now_and_before(staged, now, 'domain', 'company_ids', 'company_id')) -}}
{%- endmacro %}
