{#
    int_customer_identity rebuilds, on a daily run, only the records whose match something new may have changed,
    keyed by (source_system, source_id) (macros/incremental_by_key.sql says how the batch ledger decides what is
    new). A record's match reads its own fields, the existence of the CRM company it claims, the company the CRM
    contacts with its email identify (int_contact_emails) and the company its email's or organization's domains
    identify (int_company_domains); a help-desk user's also its organization's match. So a run recomputes:
    - the billing customers, organizations and users staged by this run, and the survey respondents that came,
      left or name another company since the model's last build (int_survey_respondents' row changes: a response
      exported again with another email leaves a respondent no staging row names);
    - the records claiming a CRM company staged by this run (a company exported late makes the explicit id match);
    - the records whose email, or whose email's or organization's domain, got another company or left since the
      model's last build (those two models' row changes: a contact's old email is in no staging row any more);
    - the users of the organizations recomputed, and the organizations of the users recomputed, whose match the
      users' reads (recomputed to the same row when nothing of theirs changed).
    Everything is recomputed when a staging table it reads was re-staged whole since its last build (a staged
    batch the raw gate failed), or when the changes of a model it reads are not kept (their tables dropped by hand).
#}

{# Each kind of record and the type of its id in staging. #}
{% macro customer_identity_sources() -%}
    {{- return({
        'billing_customer': 'text',
        'support_organization': 'bigint',
        'support_user': 'bigint',
        'survey_respondent': 'text',
    }) -}}
{%- endmacro %}

{% macro customer_identity_plan() -%}
    {%- set plan = staged_inputs_plan('int_customer_identity') -%}
    {%- if plan.incremental -%}
        {%- set kept = [] -%}
        {%- for model in ['int_contact_emails', 'int_company_domains', 'int_survey_respondents'] -%}
            {%- do kept.append("to_regclass('" ~ row_changes_relation(model) ~ "') is not null") -%}
        {%- endfor -%}
        {%- if not run_query_once('select ' ~ kept | join(' and ')).columns[0].values()[0] -%}
            {%- set plan.incremental = false -%}
            {%- set plan.reason = 'the changes of a model it reads are not kept' -%}
            {%- do log(this.identifier ~ ': ' ~ plan.reason, info=false) -%}
        {%- endif -%}
    {%- endif -%}
    {{- return(plan) -}}
{%- endmacro %}

{# The records to recompute, as (source_system, source_id) rows. #}
{% macro customer_identity_touched(plan) -%}
    {%- set staged = staged_in(plan) -%}
    {%- set email_changed -%}
        in (select email from changed_emails)
    {%- endset -%}
    {%- set domain_changed -%}
        in (select domain from changed_domains)
    {%- endset -%}
    with

    changed_emails as (
        select email from ({{ row_changes_since('int_contact_emails', plan.last_built_at) }}) as changed
    ),

    changed_domains as (
        select domain from ({{ row_changes_since('int_company_domains', plan.last_built_at) }}) as changed
    ),

    staged_companies as (
        select company_id from {{ graph_model_relation('stg_crm__companies') }} where {{ staged }}
    ),

    organizations as (
        select organization_id from {{ graph_model_relation('stg_support__organizations') }}
        where {{ staged }}
            or crm_company_id in (select company_id from staged_companies)
            -- one row per domain name, hashed against the changed ones: `&&` would compare every name with each
            or organization_id in (
                select named.organization_id
                from (
                    select organization_id, unnest(domain_names) as domain
                    from {{ graph_model_relation('stg_support__organizations') }}
                ) as named
                where named.domain {{ domain_changed }}
            )
    ),

    users as (
        select user_id, organization_id from {{ graph_model_relation('stg_support__users') }}
        where {{ staged }}
            or organization_id in (select organization_id from organizations)
            or email {{ email_changed }}
            or split_part(email, '@', 2) {{ domain_changed }}
    )

    select 'billing_customer', billing_customer_id::text from {{ graph_model_relation('stg_billing__customers') }}
    where {{ staged }}
        or crm_company_id in (select company_id from staged_companies)
        or email {{ email_changed }}
        or split_part(email, '@', 2) {{ domain_changed }}
    union all
    select 'support_organization', organization_id::text from organizations
    union all
    select 'support_organization', organization_id::text from users where organization_id is not null
    union all
    select 'support_user', user_id::text from users
    union all
    select 'survey_respondent', respondent_email
    from ({{ row_changes_since('int_survey_respondents', plan.last_built_at) }}) as changed
    union all
    select 'survey_respondent', respondent_email from {{ graph_model_relation('int_survey_respondents') }}
    where claimed_company_id in (select company_id from staged_companies)
        or respondent_email {{ email_changed }}
        or split_part(respondent_email, '@', 2) {{ domain_changed }}
{%- endmacro %}

{#
    The records to recompute, as {source_system: ids, PostgreSQL's text of their array (incremental_keys_by_kind)};
    none outside an incremental run (every record).
#}
{% macro customer_identity_keys() -%}
    {%- set plan = customer_identity_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {{- return(incremental_keys_by_kind(customer_identity_touched(plan), customer_identity_sources().keys() | list)) -}}
{%- endmacro %}

{# A condition on a staging id column: its record, of `source_system`, is recomputed (always, for keys none). #}
{% macro is_identity_recomputed(keys, source_system, column) -%}
    {%- if keys is none -%}
        true
    {%- else -%}
        {{ column }} = any({{ key_array(keys[source_system], customer_identity_sources()[source_system]) }})
    {%- endif -%}
{%- endmacro %}

{#
    The records the run replaces, as a condition on the model's key columns (the pre-hook's delete, the post-hook's
    row changes); none when it recomputes every record.
#}
{% macro customer_identity_recomputed() -%}
    {%- set keys = customer_identity_keys() -%}
    {%- if keys is none -%}{{ return(none) }}{%- endif -%}
    {{- return(is_key_of_kind_in(keys, 'source_system', 'source_id')) -}}
{%- endmacro %}

{# Pre-hook: the rows of the records recomputed, or every row when the model recomputes everything in place. #}
{% macro delete_identities_recomputed() -%}
    {%- if is_incremental_run() -%}
        {%- set recomputed = customer_identity_recomputed() -%}
        delete from {{ this }}
        {%- if recomputed is not none %}
        where {{ recomputed }}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{# Post-hook: which records got another customer (macros/row_changes.sql), among those recomputed. #}
{% macro record_identity_changes() -%}
    {{- record_row_changes(['source_system', 'source_id'], ['customer_key'], customer_identity_recomputed()) -}}
{%- endmacro %}
