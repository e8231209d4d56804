{#
    int_customer_signals_monthly and fct_customer_health rebuild, on a daily run, only the customer months
    something new can change, keyed by (customer_key, month) as int_customer_mrr_monthly is
    (macros/customer_mrr_incremental.sql says how the recomputed customers and months are written and read).

    A signals row follows from the customer's MRR movements (this month's and the next one's), the tickets
    opened in the month (fct_support_tickets), the failed charges created in it (stg_billing__charges) and the
    latest NPS answer before its end (fct_survey_responses). A run recomputes:
    - what int_customer_mrr_monthly would recompute since this model's last build (customer_mrr_recomputed), and
      the month before its first recomputed month unless that month is partial now and was when this model last
      built (a row reads the next month's movement, and says nothing of churn while that month is partial);
    - every month of each customer a ticket, NPS answer or failed charge belongs to, now or when this model last
      read it, whose counted values (customer, month, SLA verdicts; time and score; Stripe customer and time)
      changed since, in a month before those recomputed for every customer: among the tickets and responses those
      marts recomputed since, and the charges staged since; all of them when that mart was rebuilt whole or the
      charges re-staged whole since (each compared with what signals kept: signals_read_keys);
    - everything when int_customer_mrr_monthly was rebuilt whole.
    fct_customer_health scores each signals row on its own: it recomputes the customer months signals replaced.

    Bookkeeping, in the intermediate schema:
    - <model>__recomputed, the keys each run of fct_support_tickets, fct_survey_responses and
      int_customer_signals_monthly recomputed (for signals, customers, and a row of a null key with the month from
      which every customer's rows were replaced); a row of nulls: the run replaced everything. Written by a hook
      in the model's transaction, so a run that fails writes none; kept beside the mart's state because a mart's
      table changes with every publish (macros/reuse_retired_marts.sql).
    - int_customer_signals_monthly__tickets, __nps_answers and __failed_charges: the counted values of
      each ticket, answered NPS response and failed charge as signals last read them. A mart the last publish
      retired was built two runs ago, so its own rows are not what signals read; these are.
    A reader takes the log's rows after its own last build.
#}

{# Where `model_name`'s bookkeeping table `suffix` is kept: (schema, name). #}
{% macro signals_bookkeeping_parts(model_name, suffix) -%}
    {%- set node = graph.nodes['model.' ~ project_name ~ '.' ~ model_name] -%}
    {{- return((incremental_state_schema(node.schema), node.alias ~ suffix)) -}}
{%- endmacro %}

{% macro signals_bookkeeping_relation(model_name, suffix) -%}
    {%- set schema, name = signals_bookkeeping_parts(model_name, suffix) -%}
    {{- adapter.quote(schema) ~ '.' ~ adapter.quote(name) -}}
{%- endmacro %}

{#
    Pre-hook of a logged model: `rows_sql` gives the (key, from_month) rows this run recomputes; none when it
    recomputes everything (one row of nulls; the older rows go, as every reader recomputes everything anyway).
#}
{% macro log_recomputed_keys(rows_sql) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set log = signals_bookkeeping_relation(model.name, '__recomputed') -%}
    {{ recomputed_keys_ddl(model.name) }};
    {%- if rows_sql is none %}
    delete from {{ log }};
    insert into {{ log }} values (null, null, '{{ run_started_at }}'::timestamptz)
    {%- else %}
    insert into {{ log }} (key, from_month, recomputed_at)
    select distinct key, from_month, '{{ run_started_at }}'::timestamptz
    from ({{ rows_sql }}) as recomputed (key, from_month)
    where key is not null or from_month is not null
    {%- endif %}
{%- endmacro %}

{# `model_name`'s log, made if missing. #}
{% macro recomputed_keys_ddl(model_name) -%}
    {%- set log = signals_bookkeeping_relation(model_name, '__recomputed') -%}
    create table if not exists {{ log }} (key text, from_month date, recomputed_at timestamptz not null);
    create index if not exists {{ model_name }}__recomputed_at on {{ log }} (recomputed_at)
{%- endmacro %}

{#
    Post-hook of a log's only reader, after record_incremental_state: the rows no build of it will read again, those
    up to its tables' oldest last build (a mart's two tables take turns: macros/reuse_retired_marts.sql).
#}
{% macro prune_recomputed_keys(model_name) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set own = "model like '" ~ this.identifier ~ "@%'" if this.schema == var('marts_build_schema', 'marts_build')
        else "model = '" ~ this.identifier ~ "'" -%}
    {{ recomputed_keys_ddl(model_name) }};
    delete from {{ signals_bookkeeping_relation(model_name, '__recomputed') }}
    where recomputed_at <= (select min(built_at) from {{ incremental_state_relation() }} where {{ own }})
{%- endmacro %}

{# The (key, from_month) rows `model_name`'s log holds after `since_sql` (a timestamptz expression), as a query. #}
{% macro recomputed_keys_since(model_name, since_sql) -%}
    select key, from_month from {{ signals_bookkeeping_relation(model_name, '__recomputed') }}
    where recomputed_at > {{ since_sql }}
{%- endmacro %}

{% macro last_built_at_sql(plan) -%}
    '{{ plan.last_built_at }}'::timestamptz
{%- endmacro %}

{#
    incremental_plan's conditions: a model of `logged` recomputed everything after this model's last build, or a
    table of `tables` ((model, suffix) pairs: logs, what signals read) is missing.
#}
{% macro recomputed_everything_since_last_build(logged, tables) -%}
    {%- set conditions = [] -%}
    {%- if not is_incremental_run() -%}{{ return(conditions) }}{%- endif -%}
    {%- for name, suffix in tables -%}
        {%- set schema, identifier = signals_bookkeeping_parts(name, suffix) -%}
        {%- if adapter.get_relation(this.database, schema, identifier) is none -%}
            {%- do conditions.append('true') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for name in logged if not conditions -%}
        {%- do conditions.append(
            'exists (select from (' ~ recomputed_keys_since(name, '(select built_at from '
            ~ incremental_state_relation() ~ ' where model = ' ~ incremental_state_key_sql() ~ ')')
            ~ ') as logged where key is null and from_month is null)'
        ) -%}
    {%- endfor -%}
    {{- return(conditions) -}}
{%- endmacro %}

{#
    What signals reads that other models keep by their own keys: for each, the model whose log says which keys its
    runs recomputed (none: the charges staged since), the table keeping what signals read, and the rows that count,
    as (key, owner, month, read_values): the owner a customer key, or for a charge its Stripe customer (immutable;
    identity gives its customer, and a change there recomputes both customers anyway); the month from which the
    row counts (a ticket's and a charge's own month; an answer's, and every month after it).
#}
{% macro signals_reads() -%}
    {{- return([
        {
            'logged': 'fct_support_tickets', 'suffix': '__tickets',
            'rows': 'select ticket_id::text, customer_key, month, row(customer_key, month, first_reply_sla_met,'
                ~ ' resolution_sla_met)::text from ' ~ ref('fct_support_tickets') ~ ' where customer_key is not null',
        },
        {
            'logged': 'fct_survey_responses', 'suffix': '__nps_answers',
            'rows': 'select ' ~ survey_response_log_key('survey_type', 'response_id') ~ ', customer_key, '
                ~ local_month('submitted_at') ~ ', row(customer_key, submitted_at,'
                ~ ' nps_score)::text from ' ~ ref('fct_survey_responses')
                ~ " where survey_type = 'nps' and is_nps_answered and customer_key is not null",
        },
        {
            'logged': none, 'suffix': '__failed_charges',
            'rows': 'select charge_id, billing_customer_id, ' ~ local_month('created_at')
                ~ ', row(billing_customer_id, created_at)::text from '
                ~ ref('stg_billing__charges') ~ " where charge_status = 'failed'",
        },
    ]) -}}
{%- endmacro %}

{% macro customer_signals_plan() -%}
    {%- set tables = [] -%}
    {%- for read in signals_reads() -%}
        {%- do tables.append(('int_customer_signals_monthly', read.suffix)) -%}
        {%- if read.logged -%}{%- do tables.append((read.logged, '__recomputed')) -%}{%- endif -%}
    {%- endfor -%}
    {{- return(incremental_plan(
        recompute_everything_if=recomputed_everything_since_last_build([], tables),
        rebuilt_upstream=['int_customer_mrr_monthly'],
        recompute_reason='the customer MRR months were recomputed whole or a bookkeeping table is missing',
    )) -}}
{%- endmacro %}

{#
    The keys of `read` (signals_reads) that changed after signals' last build, as a text[] literal: those its model
    logged, or for the charges those staged since; when that model replaced everything since (a mart the last
    publish retired is built whole the next run; charges re-staged whole), those whose counted values differ from
    what signals kept, so that one model rebuilt whole does not make signals and health recompute everything.
#}
{% macro signals_read_keys(read, plan) -%}
    {%- set kept = signals_bookkeeping_relation('int_customer_signals_monthly', read.suffix) -%}
    {%- if read.logged -%}
        {%- set changed = recomputed_keys_since(read.logged, last_built_at_sql(plan)) -%}
        {%- set replaced_all = 'exists (select from (' ~ changed ~ ') as logged where key is null and from_month is null)' -%}
    {%- else -%}
        {%- set changed = 'select charge_id, null from ' ~ ref('stg_billing__charges') ~ ' where ' ~ staged_in(plan) -%}
        {%- set replaced_all = rebuilt_whole_since_last_build(['stg_billing__charges']) -%}
    {%- endif -%}
    {%- if run_query_once('select ' ~ replaced_all).columns[0].values()[0] -%}
        {%- set changed = 'select coalesce(kept.key, now.key), null from ' ~ kept ~ ' as kept full join ('
            ~ read.rows ~ ') as now (key, owner, month, read_values) on kept.key = now.key'
            ~ ' where kept.read_values is distinct from now.read_values' -%}
        {%- do log(this.identifier ~ ': ' ~ read.suffix ~ ' compared whole, ' ~ (read.logged or 'the staged charges')
            ~ ' replaced everything since', info=false) -%}
    {%- endif -%}
    {%- set keys = distinct_keys('select key from (' ~ changed ~ ') as changed (key, from_month)') -%}
    {{- return(key_array(keys.array, 'text')) -}}
{%- endmacro %}

{#
    What int_customer_signals_monthly recomputes: {customers, from_month, moved, moved_from} as
    customer_mrr_recomputed gives them; none outside an incremental run.
#}
{% macro customer_signals_recomputed() -%}
    {%- set plan = customer_signals_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {%- set movements = customer_mrr_recomputed(customer_facts_built_sql(ref('fct_mrr_movements')), plan) -%}
    {%- set from_month = signals_from_month(movements.from_month) -%}
    {%- set touched -%}
        select unnest({{ movements.customers }})
        {%- for read in signals_reads() %}
        {%- set keys = signals_read_keys(read, plan) %}
        union all
        -- the owners of the keys whose counted values changed, before and after, unless the rows they count in are
        -- all recomputed for every customer anyway
        select {{ 'identities.customer_key' if not read.logged else 'owners.owner' }}
        from (
            select unnest(array[kept.owner, now.owner]) as owner
            from (
                select key, owner, month, read_values
                from {{ signals_bookkeeping_relation('int_customer_signals_monthly', read.suffix) }}
                where key = any({{ keys }})
            ) as kept
            full join (
                select * from ({{ read.rows }}) as counted (key, owner, month, read_values) where key = any({{ keys }})
            ) as now
                on kept.key = now.key
            where kept.read_values is distinct from now.read_values
                and least(kept.month, now.month) < {{ from_month }}
        ) as owners
        {%- if not read.logged %}
        inner join {{ ref('int_customer_identity') }} as identities
            on identities.source_system = 'billing_customer' and owners.owner = identities.source_id
        {%- endif %}
        {%- endfor %}
    {%- endset -%}
    {{- return({
        'customers': incremental_keys(touched, 'text'),
        'from_month': from_month,
        'moved': movements.moved,
        'moved_from': signals_from_month(movements.moved_from),
    }) -}}
{%- endmacro %}

{#
    The first signals month to recompute when the movements change from `month` (a date literal) on: a row reads
    the next month's movement, and its churn flag is unknown while that month is partial or missing (the month
    after the data's last one), so the month before changes only when that month was or is complete.
#}
{% macro signals_from_month(month) -%}
    {%- set still_partial = run_query_once(
        'select coalesce((select is_partial_month from ' ~ graph_model_relation('int_revenue_months')
        ~ ' where month = ' ~ month ~ '), true) and not exists (select from ' ~ this
        ~ ' where month = (' ~ month ~ " - interval '1 month')::date and churned_next_month is not null)"
    ).columns[0].values()[0] -%}
    {{- return(month if still_partial else '(' ~ month ~ " - interval '1 month')::date") -}}
{%- endmacro %}

{#
    Post-hook of int_customer_signals_monthly: what it read of each key that changed, kept for the next run (every
    key after a recompute of everything), and the customer months it replaced, logged for fct_customer_health.
#}
{% macro record_customer_signals_read(recomputed) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set plan = customer_signals_plan() -%}
    {%- for read in signals_reads() %}
    {%- set kept = signals_bookkeeping_relation('int_customer_signals_monthly', read.suffix) %}
    {%- set keys = signals_read_keys(read, plan) if recomputed is not none else none %}
    create table if not exists {{ kept }} (
        key text primary key, owner text not null, month date not null, read_values text not null
    );
    delete from {{ kept }}{% if keys is not none %} where key = any({{ keys }}){% endif %};
    insert into {{ kept }} (key, owner, month, read_values)
    select * from ({{ read.rows }}) as counted (key, owner, month, read_values)
    {%- if keys is not none %}
    where key = any({{ keys }})
    {%- endif %};
    {%- endfor %}
    {%- if recomputed is none %}
    {{ log_recomputed_keys(none) }}
    {%- else %}
    {{ log_recomputed_keys(
        'select unnest(' ~ recomputed.customers ~ '), null::date union all select null, ' ~ recomputed.from_month
        ~ ' union all select unnest(' ~ recomputed.moved ~ '), ' ~ recomputed.moved_from
    ) }}
    {%- endif %}
{%- endmacro %}

{#
    What fct_customer_health recomputes, as customer_mrr_recomputed writes it, from the signals log after its last
    build: every month of the customers logged without a month, every customer's from the first month logged
    without a customer, and the other customers' from the first month logged with them; none outside an
    incremental run.
#}
{% macro customer_health_recomputed() -%}
    {%- set plan = incremental_plan(
        recompute_everything_if=recomputed_everything_since_last_build(
            ['int_customer_signals_monthly'], [('int_customer_signals_monthly', '__recomputed')]
        ),
        recompute_reason='int_customer_signals_monthly recomputed everything',
    ) -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {%- set logged = recomputed_keys_since('int_customer_signals_monthly', last_built_at_sql(plan)) -%}
    {%- set from_months = run_query_once(
        "select coalesce(min(from_month) filter (where key is null), 'infinity'::date)::text,"
        ~ " coalesce(min(from_month) filter (where key is not null), 'infinity'::date)::text from (" ~ logged
        ~ ') as replaced'
    ).rows[0] -%}
    {{- return({
        'customers': incremental_keys('select key from (' ~ logged ~ ') as replaced where from_month is null', 'text'),
        'from_month': "'" ~ from_months[0] ~ "'::date",
        'moved': incremental_keys('select key from (' ~ logged ~ ') as replaced where from_month is not null', 'text'),
        'moved_from': "'" ~ from_months[1] ~ "'::date",
    }) -}}
{%- endmacro %}
