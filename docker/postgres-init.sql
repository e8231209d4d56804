-- Runs once, when the postgres container starts on an empty volume (/docker-entrypoint-initdb.d), through psql
-- as POSTGRES_USER connected to POSTGRES_DB. The image has already made both from docker-compose.yml:
-- the superuser role `tealeaves` and the warehouse database `tealeaves`.

-- BI reads the published marts through `bi_reader`: every publish (tealeaves.publish) grants it usage and
-- select on the new `marts` schema. Metabase logs in as `metabase`, a member that can read and nothing else.
-- Its password comes from METABASE_DB_PASSWORD in the postgres service's environment.
\getenv metabase_password METABASE_DB_PASSWORD
\if :{?metabase_password}
\else
do $$ begin
    raise exception 'METABASE_DB_PASSWORD is not set for the postgres service (docker-compose.yml gives it a '
        'default; check .env). Set it, remove the volume (docker compose down -v) and start again.';
end $$;
\endif
create role bi_reader nologin;
create role metabase login connection limit 10 password :'metabase_password' in role bi_reader;
-- Marked and bounded as `tealeaves db reader` makes its logins (tealeaves.db.roles), so that command can rotate
-- this password and nothing else: docs/security.md.
comment on role metabase is 'tealeaves reader login';
alter role metabase set statement_timeout = '60s';
alter role metabase set idle_in_transaction_session_timeout = '60s';
alter role metabase set temp_file_limit = '1GB';

-- Airflow's own tables live beside the warehouse, in a database of their own, as on the embedded server.
-- Only its owner connects to it.
create database airflow owner tealeaves;
revoke connect on database airflow from public;

-- Apache Superset (docs/bi.md): it reads the marts as `superset`, a member of bi_reader marked and bounded as the
-- `metabase` login above, and keeps its own tables in database `superset`, which only its owner reaches, as
-- `tealeaves bi up` sets it up on the embedded server. The password comes from SUPERSET_DB_PASSWORD.
\getenv superset_password SUPERSET_DB_PASSWORD
\if :{?superset_password}
\else
do $$ begin
    raise exception 'SUPERSET_DB_PASSWORD is not set for the postgres service (see docs/bi.md). '
        'Set it in .env, remove the volume (docker compose down -v) and start again.';
end $$;
\endif
create role superset login connection limit 10 password :'superset_password' in role bi_reader;
comment on role superset is 'tealeaves reader login';
alter role superset set statement_timeout = '60s';
alter role superset set idle_in_transaction_session_timeout = '60s';
alter role superset set temp_file_limit = '1GB';

create database superset owner tealeaves;
revoke connect on database superset from public;
