-- Back to the seed's plain tables (with the columns of migration 30), rows kept.
do $migration$
declare
    t text;
    v_seq text;
    v_comment text;
    v_def text;
    v_fks text[] := '{}';
begin
    foreach t in array array['logs', 'order_logs', 'key_logs'] loop
        v_seq := pg_catalog.pg_get_serial_sequence(format('public.%I', t), 'id');
        v_comment := pg_catalog.obj_description(format('public.%I', t)::regclass, 'pg_class');
        execute format('alter table public.%I rename to %I', t, t || '_partitioned');
        execute format('create table public.%I (like public.%I including defaults including comments)',
                       t, t || '_partitioned');
        execute format('insert into public.%I select * from public.%I', t, t || '_partitioned');
        execute format('alter sequence %s owned by public.%I.id', v_seq, t);
        execute format('alter table public.%I add primary key (id), drop column logged_at', t);
        for v_def in
            select format('alter table public.%I add constraint %I %s', t, c.conname, pg_catalog.pg_get_constraintdef(c.oid))
              from pg_catalog.pg_constraint c
             where c.conrelid = format('public.%I', t || '_partitioned')::regclass and c.contype = 'f'
        loop
            v_fks := v_fks || v_def;
        end loop;
        execute format('comment on table public.%I is %L', t, v_comment);
        execute format('drop table public.%I', t || '_partitioned');
    end loop;
    foreach v_def in array v_fks loop
        execute v_def;
    end loop;
    -- The seed's cascade, as it was.
    alter table public.order_logs drop constraint order_logs_order_id_fkey;
    alter table public.order_logs add constraint order_logs_order_id_fkey
        foreign key (order_id) references public.orders (id) on delete cascade;
end
$migration$;
