-- depends: 20261126_35_audit_archive_records
-- The log tables' monthly partitions move out of public into their own schema, log_partitions: in psql a
-- DBA's `\dt` then lists the seed's seven tables and the few Strongroom adds, not one more row per log
-- month (there were 15 of them). Queries keep reading the parents (public.logs, order_logs, key_logs),
-- so no DBA query changes; audit.ensure_partitions (sql/40_audit.sql) makes new months here.
create schema log_partitions;
comment on schema log_partitions is
    'The monthly partitions of public.logs, order_logs and key_logs: read them through their parent.';

do $$
declare
    r record;
begin
    for r in
        select c.relname
        from pg_catalog.pg_inherits as p
        join pg_catalog.pg_class as c on c.oid = p.inhrelid
        join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
        where p.inhparent in ('public.logs'::regclass, 'public.order_logs'::regclass, 'public.key_logs'::regclass)
          and n.nspname = 'public'
    loop
        execute format('alter table public.%I set schema log_partitions', r.relname);
    end loop;
end
$$;
