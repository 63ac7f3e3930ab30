-- Back to the seed's plain tables (with the columns of migration 30), rows kept.
do $migration$
declare
    t text;
    v_seq text;
    v_comment text;
begin
    foreach t in array array['logs', 'order_logs', 'key_logs'] loop
        v_seq := pg_catalog.pg_get_serial_sequence(format('public.%I', t), 'id');
        v_comment := pg_catalog.obj_description(format('public.%I', t)::regclass, 'pg_class');
        execute format('alter table public.%I rename to %I', t, t || '_partitioned');
        execute format('create table public.%I (like public.%I including defaults including comments)',
                       t, t || '_partitioned');
        execute format('insert into public.%I select * from public.%I', t, t || '_partitioned');
        execute format('alter sequence %s owned by public.%I.id', v_seq, t);
        execute format('drop table public.%I', t || '_partitioned');
        execute format('alter table public.%I add primary key (id), drop column logged_at', t);
        execute format('comment on table public.%I is %L', t, v_comment);
    end loop;
end
$migration$;

alter table public.logs add foreign key (user_id) references public.users (id);
alter table public.order_logs add foreign key (order_id) references public.orders (id) on delete cascade;
alter table public.key_logs add foreign key (key_id) references public.aes_keys (id);
