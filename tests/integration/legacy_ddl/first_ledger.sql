-- The warehouse's own tables as tealeaves ef6c5586e0a1 created them at runtime (extract.py).
-- include/tealeaves/load/ddl.py
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
    status         text not null check (status in ('loaded', 'failed')),
    error          text
);
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

-- include/tealeaves/quality/store.py
create schema if not exists quality;
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
    expectation_type   text not null,
    column_name        text,
    kwargs             jsonb not null,
    severity           text not null check (severity in ('blocking', 'warning')),
    success            boolean not null,
    observed_value     jsonb,
    unexpected_count   bigint,
    unexpected_sample  jsonb not null,
    error              text,
    recorded_at        timestamptz not null,
    foreign key (run_id, suite) references quality.validation_runs (run_id, suite) on delete cascade
);
comment on column quality.expectation_results.error is
    'why GX could not evaluate the expectation (missing table or column, bad SQL); the row counts as failed';
create index if not exists expectation_results_run on quality.expectation_results (run_id, suite);
