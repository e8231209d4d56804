{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['email'], 'unique': True}],
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_keys_recomputed('email', contact_emails_keys()) }}",
        post_hook=[
            "{{ gin_index_if_missing('contact_ids') }}",
            "{{ record_row_changes(['email'], ['company_id'], keys_scope('email', contact_emails_keys())) }}",
            "{{ record_incremental_state() }}",
        ],
    )
}}
{#
    One row per email a CRM contact of a company carries, with the company it identifies: null when contacts of
    two companies share it (it identifies neither), and the contacts that carry it. int_customer_identity matches
    records by it; the post-hook notes which emails got another company or left (macros/row_changes.sql), so that
    identity recomputes only the records of those emails: a contact's old email is in no staging row once the
    contact is exported again.

    Not a HAVING filter on the shared emails: the planner guesses a HAVING on an aggregate keeps one group, here
    of 21,000 at 5,000 customers, and plans every join with it from that guess.

    Incremental (macros/contact_emails_incremental.sql): a daily run recomputes the emails of the contacts it
    stages, now and before (contact_ids names them), and keeps the others.
#}
{%- set emails = contact_emails_keys() %}
select
    email,
    case when min(company_id) = max(company_id) then min(company_id) end as company_id,
    array_agg(contact_id order by contact_id) as contact_ids
from {{ ref('stg_crm__contacts') }}
where email is not null and company_id is not null
{%- if emails is not none %}
    and email = any({{ emails }})
{%- endif %}
group by email
