{#
    The bare web domain in what a CRM user typed as one: lower-cased and trimmed, without a scheme, a leading
    "www." or anything from the first "/", ":", "?" or "#" on ("https://www.Acme.com/about" is acme.com).
    Null when nothing is left. Identity compares it with the part of an email after the @, which never
    carries any of these.
#}
{% macro web_domain(value) -%}
    nullif(regexp_replace(lower(trim({{ value }})), '^([a-z][a-z0-9+.-]*://)?(www\.)?([^/:?#]*).*$', '\3'), '')
{%- endmacro %}
