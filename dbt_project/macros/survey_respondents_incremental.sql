{#
    int_survey_respondents rebuilds, on a daily run, only the respondents of the survey responses it stages
    (macros/incremental_by_key.sql says how the batch ledger decides what is new), keyed by email: each response's
    respondent now, and the respondents whose rows name one of them among their responses, those who gave it before
    (a response exported again with another email, or none, leaves its old respondent). Everything is recomputed
    when a survey's responses were re-staged whole since its last build.
#}

{% macro survey_respondents_plan() -%}
    {{- return(staged_inputs_plan('int_survey_respondents')) -}}
{%- endmacro %}

{# The respondents the run recomputes (a text[] literal), or none outside an incremental run: every respondent. #}
{% macro survey_respondents_keys() -%}
    {%- set plan = survey_respondents_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {%- set staged -%}
        {%- for prefix, model, id in [
            ('nps', 'stg_survey__nps_responses', 'response_id'),
            ('post_ticket', 'stg_survey__post_ticket_responses', 'response_id'),
            ('scorecard', 'stg_survey__scorecard_responses', 'submission_id'),
        ] %}
        select '{{ prefix }}:' || {{ id }} as response_key, respondent_email
        from {{ graph_model_relation(model) }} where {{ staged_in(plan) }}
        {{- '\n        union all' if not loop.last }}
        {%- endfor %}
    {%- endset -%}
    {%- set now = 'select respondent_email from staged' -%}
    {{- return(keys_now_and_before(staged, now, 'respondent_email', 'response_keys', 'response_key')) -}}
{%- endmacro %}

{# Post-hook: which respondents came, left or name another company (macros/row_changes.sql). #}
{% macro record_survey_respondents_changes() -%}
    {%- set scope = keys_scope('respondent_email', survey_respondents_keys()) -%}
    {{- record_row_changes(['respondent_email'], ['claimed_company_id'], scope) -}}
{%- endmacro %}
