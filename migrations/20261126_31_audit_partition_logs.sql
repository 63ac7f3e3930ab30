-- depends: 20261126_30_audit_log_columns
-- The three log tables become partitioned by month, on a new column logged_at.
--
-- Why: log tables only grow. Monthly partitions let retention detach a sealed month in one catalog step
-- (audit.retire_partitions) instead of deleting rows from an append-only table, and let a time-range
-- query read only the months it names.
--
-- Why a new column: a partitioned table's primary key must contain the partition key, and the seed's
-- "timestamp" is nullable and a local time without zone (both kept as the seed has them). logged_at is
-- timestamptz, not null, default clock_timestamp() (so rows of one transaction keep their order in
-- time); partitions are UTC months. The primary key becomes
-- (id, logged_at); one sequence still feeds id, so ids stay unique.
--
-- How: each table is renamed aside, recreated partitioned with the same columns, defaults and comments,
-- its rows copied, the id sequence handed over, and the old table dropped. Partitions exist from the
-- oldest row's month to three months ahead, plus a default partition so that an insert never fails for
-- want of a month; audit.ensure_partitions() keeps creating months ahead.
--
-- Foreign keys: the audit requirement wins over the seed where they fight (README, "The tables"):
--   logs.user_id        -> users(id)    NO ACTION, as the seed. Users are disabled (is_active = false),
--                                       never deleted: deleting a user whom a log row names is refused.
--   order_logs.order_id -> orders(id)   was ON DELETE CASCADE, now NO ACTION. Orders are cancelled, never
--                                       deleted: the cascade would erase the order's history (and the
--                                       append-only trigger refuses it anyway), so deleting an order that
--                                       has a history fails with a foreign-key violation instead.
--   key_logs.key_id     -> aes_keys(id) NO ACTION, as the seed. Keys are retired (material destroyed),
--                                       never deleted.

do $migration$
declare
    t text;
    v_seq text;
    v_comment text;
    v_month timestamptz;
    v_fks text[];
    v_indexes text[];
    v_def text;
begin
    foreach t in array array['logs', 'order_logs', 'key_logs'] loop
        v_seq := pg_catalog.pg_get_serial_sequence(format('public.%I', t), 'id');
        v_comment := pg_catalog.obj_description(format('public.%I', t)::regclass, 'pg_class');
        execute format('alter table public.%I rename to %I', t, t || '_unpartitioned');
        execute format('alter table public.%I add column logged_at timestamptz not null default pg_catalog.clock_timestamp()',
                       t || '_unpartitioned');
        execute format(
            'create table public.%I (like public.%I including defaults including comments including generated)'
            ' partition by range (logged_at)', t, t || '_unpartitioned');
        execute format('alter table public.%I add constraint %I primary key (id, logged_at)', t, t || '_pk');
        execute format('alter sequence %s owned by public.%I.id', v_seq, t);
        execute format('comment on table public.%I is %L', t, v_comment);
        execute format('comment on column public.%I.logged_at is %L', t,
                       'When the row was written (the partition key; partitions are UTC months).');

        for v_month in
            execute format('select pg_catalog.generate_series('
                           '  least(pg_catalog.date_trunc(''month'', min(logged_at), ''UTC''),'
                           '        pg_catalog.date_trunc(''month'', pg_catalog.now(), ''UTC'')),'
                           '  pg_catalog.date_trunc(''month'', pg_catalog.now(), ''UTC'') + interval ''3 months'','
                           '  interval ''1 month'') from public.%I', t || '_unpartitioned')
        loop
            execute format('create table public.%I partition of public.%I for values from (%L) to (%L)',
                           t || '_' || pg_catalog.to_char(v_month at time zone 'UTC', '"y"YYYY"m"MM'), t,
                           v_month, v_month + interval '1 month');
        end loop;
        execute format('create table public.%I partition of public.%I default', t || '_default', t);

        -- Rows written before the audit trail existed get this transaction's id, so the first seal takes
        -- them; they have no row hash, which audit.verify() reports.
        execute format('insert into public.%I select * from public.%I', t, t || '_unpartitioned');
        execute format('update public.%I set txid = pg_catalog.pg_current_xact_id()', t);
        -- Foreign keys and indexes other areas' migrations may have added come along; a foreign key of a
        -- log table never cascades or nulls (the decision above), so those actions are dropped.
        select coalesce(array_agg(format('alter table public.%I add constraint %I %s', t, c.conname,
                                         regexp_replace(pg_catalog.pg_get_constraintdef(c.oid),
                                                        ' ON (DELETE|UPDATE) (CASCADE|SET NULL|SET DEFAULT)', '', 'g'))),
                        '{}')
          into v_fks
          from pg_catalog.pg_constraint c
         where c.conrelid = format('public.%I', t || '_unpartitioned')::regclass and c.contype = 'f';
        select coalesce(array_agg(replace(pg_catalog.pg_get_indexdef(i.indexrelid),
                                          format(' ON public.%I ', t || '_unpartitioned'), format(' ON public.%I ', t))),
                        '{}')
          into v_indexes
          from pg_catalog.pg_index i
         where i.indrelid = format('public.%I', t || '_unpartitioned')::regclass
           and not i.indisprimary and not i.indisunique;
        execute format('drop table public.%I', t || '_unpartitioned');
        foreach v_def in array v_fks || v_indexes loop
            execute v_def;
        end loop;
        execute format('alter table public.%I alter column txid set not null', t);
    end loop;
end
$migration$;

-- The usual questions: by time (BRIN: the tables are append-only, so time follows the physical order),
-- by transaction id for sealing (btree: xid8 has no BRIN operator class), by user, by table and row, by request.
create index logs_logged_at_brin on public.logs using brin (logged_at);
create index logs_txid on public.logs (txid);
create index logs_user_id on public.logs (user_id, logged_at);
create index logs_actor_id on public.logs (actor_id, logged_at);
create index logs_table_row on public.logs (table_name, row_id);
create index logs_request_id on public.logs (request_id);
create index order_logs_logged_at_brin on public.order_logs using brin (logged_at);
create index order_logs_txid on public.order_logs (txid);
create index order_logs_order_id on public.order_logs (order_id, logged_at);
create index key_logs_logged_at_brin on public.key_logs using brin (logged_at);
create index key_logs_txid on public.key_logs (txid);
create index key_logs_key_id on public.key_logs (key_id, logged_at);
