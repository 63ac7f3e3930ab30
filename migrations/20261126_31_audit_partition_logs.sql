-- The three log tables become partitioned by month (native range partitioning on their time column).
--
-- Why: log tables only grow. Monthly partitions let retention detach a sealed month in one catalog step
-- (audit.retire_partitions, sql/40_audit.sql) instead of deleting rows from an append-only table, and let
-- a DBA's time-range query read only the months it names.
--
-- How: each table is renamed aside, recreated as a partitioned table with the same columns, defaults and
-- comments, its rows are copied, and the old table is dropped. The id sequence moves to the new table,
-- so ids keep counting. A partitioned table's primary key must contain the partition key, so the key is
-- (id, created_at); id alone stays unique in practice because one sequence feeds it.
--
-- Foreign keys, the audit requirement winning over the seed (DESIGN §2):
--   logs.user_id       -> users(id)    ON DELETE NO ACTION (as the seed). Users are disabled, never
--                                      deleted: deleting a user who has log rows is refused by this key,
--                                      and the seed's ON DELETE SET NULL on orders never gets to run.
--   order_logs.order_id -> orders(id)  was ON DELETE CASCADE; now NO ACTION. Orders are cancelled, never
--                                      deleted: a cascade would erase the order's history, and the
--                                      append-only trigger would refuse it anyway. Deleting an order
--                                      that has a history fails with a foreign-key violation.
--   key_logs.key_id    -> aes_keys(id) NO ACTION (as the seed). Keys are retired (material destroyed),
--                                      never deleted.
-- Partitions from the oldest row's month to three months ahead exist after this migration, plus a
-- default partition so an insert never fails for want of a partition; audit.ensure_partitions() keeps
-- creating months ahead.
-- depends: 20261126_30_audit_log_columns

do $migration$
declare
    t text;
    v_seq text;
    v_first timestamptz;
    v_month timestamptz;
begin
    foreach t in array array['logs', 'order_logs', 'key_logs'] loop
        v_seq := pg_catalog.pg_get_serial_sequence(format('public.%I', t), 'id');
        execute format('alter table public.%I rename to %I', t, t || '_unpartitioned');
        execute format('alter table public.%I rename constraint %I to %I',
                       t || '_unpartitioned', t || '_pkey', t || '_unpartitioned_pkey');
        execute format(
            'create table public.%I (like public.%I including defaults including comments including generated)'
            ' partition by range (created_at)', t, t || '_unpartitioned');
        execute format('alter table public.%I add primary key (id, created_at)', t);
        execute format('alter sequence %s owned by public.%I.id', v_seq, t);

        execute format('select pg_catalog.date_trunc(''month'', coalesce(min(created_at), pg_catalog.now()), ''UTC'')'
                       ' from public.%I', t || '_unpartitioned') into v_first;
        v_month := least(v_first, pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC'));
        while v_month < pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC') + interval '4 months' loop
            execute format('create table public.%I partition of public.%I for values from (%L) to (%L)',
                           t || '_' || pg_catalog.to_char(v_month at time zone 'UTC', '"y"YYYY"m"MM'), t,
                           v_month, v_month + interval '1 month');
            v_month := v_month + interval '1 month';
        end loop;
        execute format('create table public.%I partition of public.%I default', t || '_default', t);

        -- Rows written before the audit trail existed get this transaction's id, so the first seal
        -- takes them; they have no row hash, and audit.verify() reports them until someone decides.
        execute format('insert into public.%I select * from public.%I', t, t || '_unpartitioned');
        execute format('update public.%I set txid = pg_catalog.pg_current_xact_id()', t);
        execute format('drop table public.%I', t || '_unpartitioned');
    end loop;
end
$migration$;

alter table public.logs
    add constraint logs_user_id_fkey foreign key (user_id) references public.users (id) on delete no action;
alter table public.order_logs
    add constraint order_logs_order_id_fkey foreign key (order_id) references public.orders (id) on delete no action;
alter table public.key_logs
    add constraint key_logs_key_id_fkey foreign key (key_id) references public.aes_keys (id) on delete no action;
alter table public.logs alter column txid set not null;
alter table public.order_logs alter column txid set not null;
alter table public.key_logs alter column txid set not null;
