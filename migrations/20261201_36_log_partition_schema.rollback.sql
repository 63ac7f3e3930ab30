do $$
declare
    r record;
begin
    for r in
        select c.relname
        from pg_catalog.pg_class as c
        join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
        where n.nspname = 'log_partitions' and c.relkind in ('r', 'p')
    loop
        execute format('alter table log_partitions.%I set schema public', r.relname);
    end loop;
end
$$;
drop schema log_partitions;
