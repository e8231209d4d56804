{{
    config(
        post_hook="{{ record_row_changes(['email'], ['company_id']) }}",
    )
}}
{#
    One row per email a CRM contact carries, with the company it identifies: null when contacts of two companies
    share it (it identifies neither). int_customer_identity matches records by it; the post-hook notes which
    emails got another company or left (macros/row_changes.sql), so that identity recomputes only the records
    of those emails: a contact's old email is in no staging row once the contact is exported again.

    Not a HAVING filter on the shared emails: the planner guesses a HAVING on an aggregate keeps one group, here
    of 21,000 at 5,000 customers, and plans every join with it from that guess.
#}
select
    email,
    case when min(company_id) = max(company_id) then min(company_id) end as company_id
from {{ ref('stg_crm__contacts') }}
where email is not null and company_id is not null
group by email
