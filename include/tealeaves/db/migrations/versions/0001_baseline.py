"""Baseline: the warehouse's own tables as tealeaves made them at runtime before revisions existed.

Revision 0001, the first. The statements are those the code ran on every load, gate run, alert and fit (each
`if not exists`, with the detection steps it carried for older forms), so this one revision serves both kinds of
database:

- a new one gets exactly what that code created;
- one made by that code (tables present, no version table) is adopted in place: nothing that exists is dropped
  or rewritten, and the older forms are brought up to date with their rows, as the code did on its next run:
  a ledger whose status check predates 'loading', a ledger without the raw gate's validation columns, gate
  results that still held their samples in `quality`, raw tables that still had a per-row foreign key to the
  ledger.

One correction to that code: from d124fe2 on, every load dropped every foreign key to the ledger in `raw`,
`raw.rejected_rows`' own key included, though only the raw tables' keys were meant to go (fb3dfd9). Here the
quarantine keeps its key, and a warehouse that lost it gets it back.
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# raw: the batch ledger and the quarantine (tealeaves.load); each source's own raw table is the loader's.
RAW_LEDGER = """
create schema if not exists raw;
create table if not exists raw.load_batches (
    batch_id       bigserial primary key,
    source         text not null,
    entity         text not null,
    file_name      text not null,
    file_path      text not null,
    content_hash   text not null,
    rows_in        bigint,
    rows_loaded    bigint,
    rows_rejected  bigint,
    started_at     timestamptz not null,
    finished_at    timestamptz,
    status         text not null constraint load_batches_status_check
                   check (status in ('loading', 'loaded', 'failed')),
    error          text
);
-- 'loading' (committed before the load starts, so a killed load leaves a line) came after the first ledgers.
do $$ begin
    if not exists (
        select from pg_constraint where conrelid = 'raw.load_batches'::regclass
           and conname = 'load_batches_status_check' and pg_get_constraintdef(oid) like '%loading%'
    ) then
        alter table raw.load_batches drop constraint if exists load_batches_status_check;
        alter table raw.load_batches add constraint load_batches_status_check
            check (status in ('loading', 'loaded', 'failed'));
    end if;
end $$;
-- The raw gate's verdict on the batch (tealeaves.quality.raw_gate); staging skips failed batches.
alter table raw.load_batches add column if not exists validation text not null default 'pending'
    check (validation in ('pending', 'passed', 'failed'));
alter table raw.load_batches add column if not exists validated_at timestamptz;
alter table raw.load_batches add column if not exists validation_run_id text;
create unique index if not exists load_batches_content_once
    on raw.load_batches (source, entity, content_hash) where status = 'loaded';
create table if not exists raw.rejected_rows (
    batch_id     bigint not null references raw.load_batches (batch_id),
    source       text not null,
    entity       text not null,
    file_name    text not null,
    line_number  bigint not null,
    raw_text     text not null,
    reason       text not null,
    rejected_at  timestamptz not null default now()
);
create index if not exists rejected_rows_batch on raw.rejected_rows (batch_id);
-- Raw rows name their batch without a foreign key (a per-row check doubled the cost of a load). What the key
-- guaranteed holds here instead, once per statement: a loaded batch's ledger line is never deleted, nor its id
-- or status changed, so every raw row's `_batch_id` keeps naming a loaded batch.
create or replace function raw.keep_loaded_batches() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' or new.batch_id <> old.batch_id or new.status <> 'loaded' then
        raise exception 'raw.load_batches: batch % is loaded; its ledger line cannot be deleted or changed',
            old.batch_id using errcode = 'integrity_constraint_violation';
    end if;
    return coalesce(new, old);
end $$;
create or replace trigger load_batches_keep_loaded
    before update or delete on raw.load_batches
    for each row when (old.status = 'loaded') execute function raw.keep_loaded_batches();
"""

# Raw tables made before issue 15 checked `_batch_id` against the ledger row by row (fb3dfd9); the quarantine's
# key stays. Tables made since never have one.
RAW_TABLES_WITHOUT_BATCH_KEYS = """
do $$
declare
    batch_key record;
begin
    for batch_key in
        select c.relname, k.conname from pg_constraint k join pg_class c on c.oid = k.conrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'raw' and k.contype = 'f' and k.confrelid = 'raw.load_batches'::regclass
          and c.relname <> 'rejected_rows'
    loop
        execute format('alter table raw.%I drop constraint %I', batch_key.relname, batch_key.conname);
    end loop;
end $$;
"""

# The quarantine's key, for warehouses whose loads dropped it (d124fe2 to the last release before revisions).
# Added unchecked first: it is validated only when every quarantined row names a ledger line, so a warehouse
# where one does not is upgraded anyway (new rows are checked) instead of refusing to start.
REJECTED_ROWS_BATCH_KEY = """
do $$
begin
    if not exists (
        select from pg_constraint
        where conrelid = 'raw.rejected_rows'::regclass and contype = 'f'
          and confrelid = 'raw.load_batches'::regclass
    ) then
        alter table raw.rejected_rows add constraint rejected_rows_batch_id_fkey
            foreign key (batch_id) references raw.load_batches (batch_id) not valid;
        if not exists (
            select from raw.rejected_rows as r
            where not exists (select from raw.load_batches as b where b.batch_id = r.batch_id)
        ) then
            alter table raw.rejected_rows validate constraint rejected_rows_batch_id_fkey;
        end if;
    end if;
end $$;
"""

# quality: every gate run's outcomes (BI reads them); quality_samples: what they observed (data team only).
QUALITY_STORE = """
create schema if not exists quality;
create schema if not exists quality_samples;
create table if not exists quality.validation_runs (
    run_id       text not null,
    suite        text not null,
    schema_name  text not null,
    table_name   text not null,
    success      boolean not null,
    started_at   timestamptz not null,
    finished_at  timestamptz not null,
    primary key (run_id, suite)
);
comment on column quality.validation_runs.success is
    'true when the suite ran and no blocking expectation failed (warnings do not count)';
create table if not exists quality.expectation_results (
    run_id             text not null,
    suite              text not null,
    position           integer not null,
    expectation_type   text not null,
    column_name        text,
    kwargs             jsonb not null,
    severity           text not null check (severity in ('blocking', 'warning')),
    success            boolean not null,
    unexpected_count   bigint,
    error              text,
    recorded_at        timestamptz not null,
    foreign key (run_id, suite) references quality.validation_runs (run_id, suite) on delete cascade
);
create table if not exists quality_samples.expectation_samples (
    run_id             text not null,
    suite              text not null,
    position           integer not null,
    observed_value     jsonb,
    unexpected_sample  jsonb not null,
    primary key (run_id, suite, position),
    foreign key (run_id, suite) references quality.validation_runs (run_id, suite) on delete cascade
);
alter table quality_samples.expectation_samples add column if not exists error text;
comment on column quality_samples.expectation_samples.error is
    'GX''s full error message, which may quote a value from the data; quality.expectation_results.error withholds it';
comment on table quality_samples.expectation_samples is
    'what each expectation observed and a few offending rows, from data that may not pass the gate: data team only';
do $$
begin  -- results stored before the samples moved out of `quality`: move them, then drop the columns
    if exists (
        select 1 from information_schema.columns
        where table_schema = 'quality' and table_name = 'expectation_results' and column_name = 'unexpected_sample'
    ) then
        alter table quality.expectation_results add column if not exists position integer;
        update quality.expectation_results as r set position = n.position
        from (
            select ctid, row_number() over (partition by run_id, suite order by ctid) as position
            from quality.expectation_results
        ) as n
        where r.ctid = n.ctid;
        insert into quality_samples.expectation_samples
        select run_id, suite, position, observed_value, unexpected_sample from quality.expectation_results;
        alter table quality.expectation_results
            drop column observed_value, drop column unexpected_sample, alter column position set not null;
    end if;
end $$;
comment on column quality.expectation_results.error is
    'why GX could not evaluate the expectation (missing table or column, bad SQL); the row counts as failed';
comment on column quality.expectation_results.position is
    'the expectation''s place in its suite; with run_id and suite, the key of quality_samples.expectation_samples';
create index if not exists expectation_results_run on quality.expectation_results (run_id, suite);
create or replace view quality_samples.expectation_details as
select r.run_id, r.suite, r.position, r.expectation_type, r.column_name, r.kwargs, r.severity, r.success,
       s.observed_value, r.unexpected_count, s.unexpected_sample, coalesce(s.error, r.error) as error, r.recorded_at
from quality.expectation_results as r
left join quality_samples.expectation_samples as s using (run_id, suite, position);
comment on view quality_samples.expectation_details is
    'every stored expectation outcome with what it observed and its offending rows: the data team''s view';
"""

# The raw gate validates a query (one batch of a raw table) through a view it makes here for the run.
QUALITY_SCRATCH = "create schema if not exists quality_scratch;"

ALERT_STATE = """
create schema if not exists quality;
create table if not exists quality.alert_state (
    alert_key        text primary key,
    status           text not null check (status in ('failing', 'ok')),
    level            smallint not null default 0,
    first_failed_at  timestamptz,
    notified         boolean not null default false,
    last_sent_at     timestamptz,
    last_sent_kind   text,
    fingerprint      text,
    last_title       text,
    updated_at       timestamptz not null
);
comment on table quality.alert_state is
    'one row per alert (gate:<dag>, freshness:<source>, task:<dag>.<task>, run:<dag>, late:<dag>): what was last told';
comment on column quality.alert_state.notified is
    'true once the current failure reached at least one channel; false means the next report sends again';
comment on column quality.alert_state.level is '0 ok, 1 failing (freshness: 1 warn, 2 error); a rise is re-sent';
"""

PUBLICATIONS = """
create schema if not exists quality;
create table if not exists quality.publications (
    published_at  timestamptz not null,
    run_id        text not null,
    schema_name   text not null,
    tables        jsonb not null
);
comment on table quality.publications is
    'one row per publication of the audited build to BI (marts); the newest row is what BI reads';
create index if not exists publications_newest on quality.publications (schema_name, published_at desc);
"""

# ltv: every fit, good or failed, and its per-customer predictions (tealeaves.ltv.store).
LTV_STORE = """
create schema if not exists ltv;
create table if not exists ltv.model_fits (
    fit_id text primary key,
    run_id text not null,
    kind text not null check (kind in ('pipeline', 'backtest')),
    fitted_at timestamptz not null,
    as_of_date date,
    time_unit text not null,
    n_customers integer not null,
    n_repeat_customers integer not null,
    bgnbd_r double precision,
    bgnbd_alpha double precision,
    bgnbd_a double precision,
    bgnbd_b double precision,
    bgnbd_log_likelihood double precision,
    gamma_gamma_p double precision,
    gamma_gamma_q double precision,
    gamma_gamma_gamma double precision,
    gamma_gamma_log_likelihood double precision,
    converged boolean not null,
    message text not null,
    horizon_months integer not null,
    monthly_discount_rate double precision not null,
    holdout_end_date date,
    holdout_predicted_transactions double precision,
    holdout_actual_transactions double precision,
    holdout_error_pct double precision,
    holdout_mean_absolute_error double precision
);
create table if not exists ltv.customer_predictions (
    fit_id text not null references ltv.model_fits (fit_id) on delete cascade,
    customer_key text not null,
    frequency integer not null,
    recency double precision not null,
    t double precision not null,
    monetary_value_usd double precision not null,
    p_alive double precision not null,
    expected_spend_usd double precision not null,
    expected_transactions_3m double precision not null,
    expected_transactions_6m double precision not null,
    expected_transactions_12m double precision not null,
    expected_revenue_3m_usd double precision not null,
    expected_revenue_6m_usd double precision not null,
    expected_revenue_12m_usd double precision not null,
    clv_usd double precision not null,
    primary key (fit_id, customer_key)
);
create table if not exists ltv.backtest_customers (
    fit_id text not null references ltv.model_fits (fit_id) on delete cascade,
    customer_key text not null,
    calibration_frequency integer not null,
    predicted_transactions double precision not null,
    actual_transactions integer not null,
    primary key (fit_id, customer_key)
);
"""


def upgrade() -> None:
    for statements in (
        RAW_LEDGER,
        RAW_TABLES_WITHOUT_BATCH_KEYS,
        REJECTED_ROWS_BATCH_KEY,
        QUALITY_STORE,
        QUALITY_SCRATCH,
        ALERT_STATE,
        PUBLICATIONS,
        LTV_STORE,
    ):
        op.execute(statements)


def downgrade() -> None:
    raise NotImplementedError("the baseline holds every loaded batch: empty the warehouse with `tealeaves db reset`")
