-- The audit trail: who did what, when, from where — written by triggers, append-only, tamper-evident.
--
-- Read top to bottom:
--   1. error codes of this area
--   2. row hashing: the canonical encoding every log row's SHA-256 is taken over
--   3. the log tables' own triggers: stamp (context, transaction id, hash) and refuse UPDATE/DELETE/TRUNCATE
--   4. writing events: private.log_event (security and admin events), private.log_access_refused
--   5. change audit: the row trigger attached to audited tables, and order events into order_logs
--   6. audit.enable_tracking / audit.disable_tracking (the list of tables is sql/85_audit_tracking.sql)
--   7. partitions: audit.ensure_partitions, audit.retire_partitions
--   8. sealing: audit.seal, audit.head
--   9. verifying: audit.verify
--
-- Why not one hash chain at insert: every insert would lock one head row, which measured here cut insert
-- throughput to about a quarter at 4 clients. Each row gets its own hash at insert instead (no shared
-- state), and audit.seal() chains the rows of finished transactions into blocks every few seconds.

-- 1. Error codes ------------------------------------------------------------------------------------

insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRF90', 'audit_log_append_only', 403, 'Log tables and seal blocks are append-only: rows are never updated or deleted.'),
    ('SRC90', 'audit_seal_isolation', 409, 'audit.seal() must run in a READ COMMITTED transaction.'),
    ('SRC91', 'audit_partition_unsealed', 409, 'A log partition still holds rows that are not sealed.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;

-- 2. Row hashing ------------------------------------------------------------------------------------

create or replace function audit.row_hash(p_table text, p_row jsonb)
returns bytea
language sql
immutable
parallel safe
set search_path = ''
as $$
    -- The encoding: the table name, length-prefixed, then the row's non-null columns as jsonb text.
    -- jsonb text is canonical (keys sorted, one spelling per value) and JSON quoting delimits every key
    -- and value, so two different rows never encode to the same bytes. Measured here, this is four times
    -- cheaper than prefixing each column with its length through jsonb_each, on every log insert.
    select public.digest(
        pg_catalog.convert_to(
            pg_catalog.octet_length(p_table) || ':' || p_table
            || pg_catalog.jsonb_strip_nulls(p_row - 'row_hash' - 'block_hash')::text,
            'UTF8'),
        'sha256')
$$;
comment on function audit.row_hash(text, jsonb) is
    'SHA-256 of a log row (or seal block) given as jsonb (to_jsonb(row) with TimeZone UTC and bytea_output '
    'hex): the table name, length-prefixed, then the non-null columns as canonical jsonb text. Null columns '
    'are left out, so adding a nullable column to a log table does not change the hash of existing rows.';

create or replace function audit.block_hash(p_block audit.seal_blocks)
returns bytea
language sql
stable
set search_path = ''
set timezone = 'UTC'
set bytea_output = 'hex'
as $$
    select audit.row_hash('seal_blocks', pg_catalog.to_jsonb(p_block))
$$;
comment on function audit.block_hash(audit.seal_blocks) is
    'The hash of a seal block: every column but block_hash, encoded like a log row.';

create or replace function audit.genesis_hash()
returns bytea
language sql
immutable
set search_path = ''
as $$
    select public.digest('strongroom audit genesis', 'sha256')
$$;
comment on function audit.genesis_hash() is 'The prev_hash of the first seal block.';

create or replace function audit.session_role()
returns text
language sql
stable
set search_path = ''
as $$
    -- Inside a SECURITY DEFINER function current_user is the owner; the role setting still holds what
    -- the session switched to (the API's SET LOCAL ROLE), and a DBA's psql session has none.
    select case pg_catalog.current_setting('role')
               when 'none' then session_user::text
               else pg_catalog.current_setting('role')
           end
$$;
comment on function audit.session_role() is
    'The database role the session acts as: the role it SET ROLE to (API requests), else its login role.';

-- 3. The log tables' own triggers -------------------------------------------------------------------

create or replace function audit.tg_log__stamp()
returns trigger
language plpgsql
set search_path = ''
set timezone = 'UTC'
as $$
-- This runs on every log insert: measured against bench/audit. What it reads is written out inline, not
-- through audit.session_role(), the private.caller_*() getters or audit.row_hash(): a SQL function with
-- its own SET clause is never inlined, and called from PL/pgSQL it is parsed again in every transaction.
declare
    v_role text := pg_catalog.current_setting('role');
begin
    -- Forced, never taken from the inserter: sealing relies on txid, and db_role must not be forgeable.
    new.txid := pg_catalog.pg_current_xact_id();
    new.db_role := case v_role when 'none' then session_user::text else v_role end;
    -- Defaults from the request context, unless the writer knew better (e.g. the API's batch of calls).
    new.actor_id := coalesce(new.actor_id,
                             nullif(pg_catalog.current_setting('strongroom.user_id', true), '')::integer);
    new.request_id := coalesce(new.request_id,
                               nullif(pg_catalog.current_setting('strongroom.request_id', true), ''));
    new.client_addr := coalesce(new.client_addr,
                                nullif(pg_catalog.current_setting('strongroom.client_addr', true), '')::inet,
                                pg_catalog.inet_client_addr());
    -- audit.row_hash(tg_argv[0], to_jsonb(new)), the same bytes: with row_hash null, jsonb_strip_nulls
    -- drops it, and a log table has no block_hash. TimeZone UTC (above) fixes how logged_at is spelled;
    -- bytea_output does not matter, row_hash being the log tables' only bytea column.
    new.row_hash := null;
    new.row_hash := public.digest(
        pg_catalog.convert_to(
            pg_catalog.octet_length(tg_argv[0]) || ':' || tg_argv[0]
            || pg_catalog.jsonb_strip_nulls(pg_catalog.to_jsonb(new))::text,
            'UTF8'),
        'sha256');
    return new;
end
$$;
comment on function audit.tg_log__stamp() is
    'BEFORE INSERT on each log table, fired last: fills transaction id, database role and request context, '
    'then the row''s SHA-256. Argument: the log table''s name (partitions share their parent''s).';

create or replace function audit.tg_log__refuse_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception '% is append-only: % refused', coalesce(tg_argv[0], tg_table_name), tg_op
        using errcode = 'SRF90',
              hint = 'Log rows are evidence; old months leave through audit.retire_partitions().';
end
$$;
comment on function audit.tg_log__refuse_change() is
    'Refuses UPDATE, DELETE and TRUNCATE on log tables and seal blocks, for every role including the owner.';

do $$
declare
    t text;
begin
    foreach t in array array['logs', 'order_logs', 'key_logs'] loop
        execute format('drop trigger if exists _990_stamp on public.%I', t);
        execute format('create trigger _990_stamp before insert on public.%I '
                       'for each row execute function audit.tg_log__stamp(%L)', t, t);
        execute format('drop trigger if exists _010_append_only on public.%I', t);
        execute format('create trigger _010_append_only before update or delete on public.%I '
                       'for each row execute function audit.tg_log__refuse_change(%L)', t, t);
        execute format('drop trigger if exists _010_append_only_truncate on public.%I', t);
        execute format('create trigger _010_append_only_truncate before truncate on public.%I '
                       'for each statement execute function audit.tg_log__refuse_change(%L)', t, t);
    end loop;
end
$$;
drop trigger if exists _010_append_only on audit.seal_blocks;
create trigger _010_append_only before update or delete on audit.seal_blocks
    for each row execute function audit.tg_log__refuse_change();
drop trigger if exists _010_append_only_truncate on audit.seal_blocks;
create trigger _010_append_only_truncate before truncate on audit.seal_blocks
    for each statement execute function audit.tg_log__refuse_change();

-- 4. Writing events ---------------------------------------------------------------------------------

drop function if exists private.log_event(text, text, text, text, jsonb, integer);
create function private.log_event(
    p_level     text,
    p_component text,
    p_action    text,
    p_message   text,
    p_details   jsonb   default null,
    p_user_id   integer default null
)
returns void
language sql
security definer -- callers (runtime roles inside api functions) may not insert into logs themselves
set search_path = ''
as $$
    insert into public.logs (level, component, action, message, details, user_id)
    values (p_level, p_component, p_action, p_message, p_details, coalesce(p_user_id, private.caller_id()))
$$;
comment on function private.log_event(text, text, text, text, jsonb, integer) is
    'Writes one event into logs; never pass a secret. p_user_id is the user the event is about (e.g. the '
    'account a failed login named; default: the caller); actor, request id, client address, database role '
    'and transaction id come from the request context. The row rolls back with the caller''s transaction: '
    'a function that logs a failure must return a status instead of raising.';

create or replace function private.log_access_refused(p_table text, p_row_id bigint)
returns void
language sql
security definer -- as private.log_event
set search_path = ''
as $$
    insert into public.logs (level, component, action, message, details, user_id, table_name, row_id)
    values ('WARNING', 'authz', 'access_refused',
            pg_catalog.format('access to %s %s refused', p_table, p_row_id),
            pg_catalog.jsonb_build_object('table', p_table, 'row_id', p_row_id),
            private.caller_id(), p_table, p_row_id)
$$;
comment on function private.log_access_refused(text, bigint) is
    'Records that the caller asked for another user''s object (or one that does not exist). The calling '
    'api function must then answer "not found" WITHOUT raising (return null or no rows), so this row '
    'commits with the request; a raise would roll it back.';

-- 5. Change audit -----------------------------------------------------------------------------------

create or replace function audit.redact(p_image jsonb, p_secret_columns text[])
returns jsonb
language sql
immutable
parallel safe
set search_path = ''
as $$
    -- Overwrites only the secret keys that hold a value; the rest of the image is untouched.
    select p_image || coalesce(pg_catalog.jsonb_object_agg(k, '[redacted]'::text), '{}'::jsonb)
    from pg_catalog.unnest(p_secret_columns) as k
    where p_image -> k <> 'null'::jsonb
$$;
comment on function audit.redact(jsonb, text[]) is
    'A row image with the values of secret columns replaced by "[redacted]" (a null stays null). The rule of '
    'audit.tg_row__audit(), which applies it inline.';

create or replace function audit.tg_row__audit()
returns trigger
language plpgsql
security definer -- writes into logs, which the roles changing audited tables may not touch
set search_path = ''
set timezone = 'UTC'
as $$
-- This runs on every audited write: plain statements only, measured against bench/audit. The caller's id
-- is read inline rather than through private.caller_id() (a SQL function with a SET clause is parsed again
-- in every transaction when PL/pgSQL calls it). TimeZone UTC: the images spell timestamps the same way
-- whoever writes; bytea_output does not matter, every bytea column being redacted (enable_tracking).
declare
    v_old jsonb;
    v_new jsonb;
    v_details jsonb;
    v_id text;
    v_secret text;
begin
    if tg_op <> 'DELETE' then
        v_new := pg_catalog.to_jsonb(new);
    end if;
    if tg_op <> 'INSERT' then
        v_old := pg_catalog.to_jsonb(old);
    end if;
    if tg_op = 'UPDATE' then
        select pg_catalog.jsonb_build_object('changed', coalesce(pg_catalog.jsonb_agg(k order by k), '[]'))
        into v_details
        from pg_catalog.jsonb_object_keys(v_new) as k
        where v_new -> k is distinct from v_old -> k;
    end if;
    -- audit.redact(image, tg_argv), unrolled for the same reason as the caller's id above.
    foreach v_secret in array coalesce(tg_argv, '{}') loop
        if v_old -> v_secret <> 'null'::jsonb then
            v_old := pg_catalog.jsonb_set(v_old, array[v_secret], '"[redacted]"');
        end if;
        if v_new -> v_secret <> 'null'::jsonb then
            v_new := pg_catalog.jsonb_set(v_new, array[v_secret], '"[redacted]"');
        end if;
    end loop;
    v_id := coalesce(v_new, v_old) ->> 'id';
    insert into public.logs (level, component, action, message, details, user_id, table_name, row_id,
                             before_image, after_image)
    values ('INFO', 'audit', pg_catalog.lower(tg_op),
            pg_catalog.lower(tg_op) || ' ' || tg_table_name || ' ' || v_id,
            v_details, nullif(pg_catalog.current_setting('strongroom.user_id', true), '')::integer,
            tg_table_name, v_id::bigint, v_old, v_new);
    return null;
end
$$;
comment on function audit.tg_row__audit() is
    'AFTER INSERT/UPDATE/DELETE on an audited table: one logs row with before/after images (secret columns, '
    'given as trigger arguments, redacted; their change still listed in details.changed). user_id and '
    'actor_id are the caller (null for a DBA''s session: db_role says who); the row''s owner is in the images.';

create or replace function audit.tg_orders__order_events()
returns trigger
language plpgsql
security definer -- writes into order_logs, which the roles changing orders may not touch
set search_path = ''
as $$
declare
    v_old jsonb;
    v_new jsonb;
begin
    if tg_op = 'INSERT' then
        insert into public.order_logs (order_id, action, details)
        values (new.id, 'created', pg_catalog.jsonb_build_object('status', new.status)::text);
    elsif tg_op = 'DELETE' then
        insert into public.order_logs (order_id, action, details)
        values (old.id, 'deleted', pg_catalog.jsonb_build_object('status', old.status)::text);
    else
        if new.status is distinct from old.status then
            insert into public.order_logs (order_id, action, details)
            values (new.id, 'status_changed',
                    pg_catalog.jsonb_build_object('from', old.status, 'to', new.status)::text);
        end if;
        -- The sensitive field's columns (named sensitive*, whatever the encryption added) changed: the
        -- fact is recorded, never a value.
        v_old := pg_catalog.to_jsonb(old);
        v_new := pg_catalog.to_jsonb(new);
        if exists (select from pg_catalog.jsonb_object_keys(v_new) as k
                   where k like 'sensitive%' and v_new -> k is distinct from v_old -> k) then
            insert into public.order_logs (order_id, action, details)
            values (new.id, 'sensitive_changed', null);
        end if;
    end if;
    return null;
end
$$;
comment on function audit.tg_orders__order_events() is
    'AFTER INSERT/UPDATE/DELETE on orders: the order''s history in order_logs (created; status_changed with '
    'details {from, to}; sensitive_changed, without the value; deleted).';

-- 6. Which tables are audited -----------------------------------------------------------------------

create or replace function audit.enable_tracking(p_table regclass, p_secret_columns text[] default '{}')
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_secrets text[];
begin
    -- Every bytea column, and every column named like a secret, is redacted as well (ciphertexts, key
    -- material, blind indexes), so a new encrypted column is covered the day the tracking list is re-applied.
    select pg_catalog.array_agg(distinct c order by c) into v_secrets
    from (select pg_catalog.unnest(p_secret_columns) as c
          union
          select a.attname::text from pg_catalog.pg_attribute as a
          where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
            and (a.atttypid = 'pg_catalog.bytea'::pg_catalog.regtype
                 or a.attname ~ '(password|secret|cipher|blind|token)')) as s;
    execute pg_catalog.format('drop trigger if exists _900_audit on %s', p_table);
    execute pg_catalog.format(
        'create trigger _900_audit after insert or update or delete on %s '
        'for each row execute function audit.tg_row__audit(%s)',
        p_table,
        (select coalesce(pg_catalog.string_agg(pg_catalog.quote_literal(c), ', '), '')
         from pg_catalog.unnest(v_secrets) as c));
end
$$;
comment on function audit.enable_tracking(regclass, text[]) is
    'Attaches the change-audit trigger to a table; p_secret_columns, every bytea column and every column '
    'named like password/secret/cipher/blind/token are redacted in the images. Idempotent.';

create or replace function audit.disable_tracking(p_table regclass)
returns void
language plpgsql
set search_path = ''
as $$
begin
    execute pg_catalog.format('drop trigger if exists _900_audit on %s', p_table);
end
$$;
comment on function audit.disable_tracking(regclass) is 'Removes the change-audit trigger from a table.';

-- 7. Partitions -------------------------------------------------------------------------------------

create or replace function audit.partition_name(p_log_table text, p_month timestamptz)
returns text
language sql
immutable
set search_path = ''
as $$
    select p_log_table || '_' || pg_catalog.to_char(p_month at time zone 'UTC', '"y"YYYY"m"MM')
$$;
comment on function audit.partition_name(text, timestamptz) is
    'The name of a log table''s partition for the UTC month starting at p_month, e.g. logs_y2026m11.';

create or replace function audit.ensure_partitions(p_months_ahead integer default 3)
returns integer
language plpgsql
set search_path = ''
as $$
declare
    t text;
    v_month timestamptz;
    v_name text;
    v_made integer := 0;
begin
    foreach t in array array['logs', 'order_logs', 'key_logs'] loop
        for v_month in
            select pg_catalog.generate_series(
                       pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC'),
                       pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC')
                           + pg_catalog.make_interval(months => p_months_ahead),
                       interval '1 month')
        loop
            v_name := audit.partition_name(t, v_month);
            continue when pg_catalog.to_regclass('public.' || v_name) is not null;
            execute pg_catalog.format(
                'create table public.%I partition of public.%I for values from (%L) to (%L)',
                v_name, t, v_month, v_month + interval '1 month');
            v_made := v_made + 1;
        end loop;
    end loop;
    return v_made;
end
$$;
comment on function audit.ensure_partitions(integer) is
    'Creates the monthly partitions of the log tables from this month to p_months_ahead ahead (UTC months). '
    'Run by every migrate and by audit.seal() when next month''s partition is missing.';

-- Every migrate re-applies this file: the months ahead exist before anyone writes into them.
select audit.ensure_partitions();

create or replace procedure audit.retire_partitions(p_keep_months integer default null)
language plpgsql
set search_path = ''
set timezone = 'UTC'
as $$
declare
    v_keep integer := coalesce(p_keep_months,
                               (select s.value::integer from audit.settings as s where s.name = 'retention_months'));
    v_cutoff timestamptz := pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC')
                            - pg_catalog.make_interval(months => v_keep);
    v_horizon xid8 := (select b.xid_to from audit.seal_blocks as b order by b.id desc limit 1);
    r record;
    v_rows bigint;
    v_unsealed bigint;
begin
    for r in
        select (select pc.relname::text from pg_catalog.pg_class as pc where pc.oid = p.inhparent) as log_table,
               c.relname::text as part,
               (pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid), '''([^'']+)'''))[1]::timestamptz
                   as month
        from pg_catalog.pg_inherits as p
        join pg_catalog.pg_class as c on c.oid = p.inhrelid
        where p.inhparent in ('public.logs'::regclass, 'public.order_logs'::regclass, 'public.key_logs'::regclass)
          and not c.relpartbound is null
          and pg_catalog.pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
        order by 3, 1
    loop
        continue when r.month + interval '1 month' > v_cutoff;
        execute pg_catalog.format('select count(*), count(*) filter (where $1 is null or txid >= $1) from public.%I',
                                  r.part)
            into v_rows, v_unsealed using v_horizon;
        if v_unsealed > 0 then
            raise exception 'partition % still has % unsealed rows', r.part, v_unsealed
                using errcode = 'SRC91', hint = 'Run audit.seal() first.';
        end if;
        execute pg_catalog.format('alter table public.%I detach partition public.%I', r.log_table, r.part);
        execute pg_catalog.format('alter table public.%I set schema audit_archive', r.part);
        insert into audit.retired_partitions (log_table, month, archived_as, row_count)
        values (r.log_table, r.month, 'audit_archive.' || r.part, v_rows);
        perform private.log_event('NOTICE', 'audit', 'partition_retired',
                                  pg_catalog.format('%s month %s (%s rows) moved to audit_archive.%s',
                                                    r.log_table, r.month, v_rows, r.part),
                                  pg_catalog.jsonb_build_object('log_table', r.log_table, 'month', r.month,
                                                                'rows', v_rows, 'archived_as', 'audit_archive.' || r.part));
    end loop;
end
$$;
comment on procedure audit.retire_partitions(integer) is
    'Retention: every log partition whose month ended more than p_keep_months (default: audit.settings '
    'retention_months) whole months ago, and whose rows are all sealed, is detached and moved to schema '
    'audit_archive, recorded in audit.retired_partitions and logged. Its seal blocks stay in the chain; '
    'audit.verify() then checks only their links. Dump audit_archive (pg_dump -n audit_archive) and drop '
    'the table when the archive is safe.';

-- 8. Sealing ----------------------------------------------------------------------------------------

create or replace view audit.log_rows as
    select 'logs'::text as log_table, 1 as table_order, l.id::bigint as id, l.txid,
           pg_catalog.date_trunc('month', l.logged_at, 'UTC') as month, l.row_hash
    from public.logs as l
    union all
    select 'order_logs', 2, o.id, o.txid, pg_catalog.date_trunc('month', o.logged_at, 'UTC'), o.row_hash
    from public.order_logs as o
    union all
    select 'key_logs', 3, k.id, k.txid, pg_catalog.date_trunc('month', k.logged_at, 'UTC'), k.row_hash
    from public.key_logs as k;
comment on view audit.log_rows is
    'The rows of the three log tables in one shape, as seal() groups them.';

-- The same rows with their hash recomputed, for verify() only (to_jsonb of every row is its main cost;
-- the planner would compute it even where a query does not use it, so seal() reads the view above).
create or replace view audit.log_rows_rehashed as
    select 'logs'::text as log_table, 1 as table_order, l.id::bigint as id, l.txid,
           pg_catalog.date_trunc('month', l.logged_at, 'UTC') as month, l.row_hash,
           audit.row_hash('logs', pg_catalog.to_jsonb(l)) as computed
    from public.logs as l
    union all
    select 'order_logs', 2, o.id, o.txid, pg_catalog.date_trunc('month', o.logged_at, 'UTC'), o.row_hash,
           audit.row_hash('order_logs', pg_catalog.to_jsonb(o))
    from public.order_logs as o
    union all
    select 'key_logs', 3, k.id, k.txid, pg_catalog.date_trunc('month', k.logged_at, 'UTC'), k.row_hash,
           audit.row_hash('key_logs', pg_catalog.to_jsonb(k))
    from public.key_logs as k;
comment on view audit.log_rows_rehashed is
    'audit.log_rows plus each row''s hash recomputed (meaningful with TimeZone UTC, as verify() runs).';

create or replace function audit.seal()
returns table (block_id bigint, log_table text, month timestamptz, row_count bigint, block_hash text)
language plpgsql
security definer -- the API's background sealer and admins may seal; only the owner writes seal_blocks
set search_path = ''
set timezone = 'UTC'
set bytea_output = 'hex'
as $$
declare
    v_last audit.seal_blocks;
    v_block audit.seal_blocks;
    v_from xid8;
    v_to xid8;
    r record;
begin
    -- The horizon below is only safe if this transaction's later statements see everything committed
    -- before it, which REPEATABLE READ and SERIALIZABLE snapshots do not.
    if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
        raise exception 'audit.seal() needs a READ COMMITTED transaction'
            using errcode = 'SRC90';
    end if;
    -- One sealer at a time; readers (verify, the DBA's queries) are not blocked.
    lock table audit.seal_blocks in exclusive mode;

    if pg_catalog.to_regclass('public.' || audit.partition_name(
           'logs', pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC') + interval '1 month')) is null then
        perform audit.ensure_partitions();
    end if;

    select b.* into v_last from audit.seal_blocks as b order by b.id desc limit 1;
    v_from := coalesce(v_last.xid_to, '0'::xid8);
    -- Every transaction with an id below the snapshot's xmin has finished: its rows are visible now and
    -- no new row with such an id can appear. Rows of transactions still running wait for the next seal.
    v_to := pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot());
    if v_to <= v_from then
        return;
    end if;

    v_block.id := coalesce(v_last.id, 0);
    v_block.block_hash := coalesce(v_last.block_hash, audit.genesis_hash());
    for r in
        select g.log_table, g.month, pg_catalog.count(*) as n,
               public.digest(pg_catalog.string_agg(coalesce(g.row_hash, ''::bytea), ''::bytea order by g.id),
                             'sha256') as rows_hash
        from audit.log_rows as g
        where g.txid >= v_from and g.txid < v_to
        group by g.table_order, g.log_table, g.month
        order by g.table_order, g.month
    loop
        v_block := row(v_block.id + 1, r.log_table, r.month, v_from, v_to, r.n, r.rows_hash,
                       v_block.block_hash, null, pg_catalog.now(), current_user)::audit.seal_blocks;
        v_block.sealed_by := audit.session_role();
        v_block.block_hash := audit.block_hash(v_block);
        insert into audit.seal_blocks select v_block.*;
        block_id := v_block.id;
        log_table := v_block.log_table;
        month := v_block.month;
        row_count := v_block.row_count;
        block_hash := pg_catalog.encode(v_block.block_hash, 'hex');
        return next;
    end loop;
end
$$;
comment on function audit.seal() is
    'Chains the log rows of every transaction finished since the last seal into new blocks (one per log '
    'table and month) and returns them. Safe to run concurrently with writers and with itself: no row is '
    'skipped or sealed twice. Run every few seconds by the API process and by `strongroom audit seal`.';

create or replace function audit.head()
returns table (block_id bigint, block_hash text, sealed_at timestamptz)
language sql
stable
security definer -- the head hash is public knowledge; seal_blocks itself is for the auditor
set search_path = ''
as $$
    select b.id, pg_catalog.encode(b.block_hash, 'hex'), b.sealed_at
    from audit.seal_blocks as b
    order by b.id desc
    limit 1
$$;
comment on function audit.head() is
    'The last seal block and its hash. Keep it outside the database (print, ticket, another system): '
    'it is the only defence against someone rewriting the whole tail of the chain.';

-- 9. Verifying --------------------------------------------------------------------------------------

create or replace function audit.verify()
returns table (
    ok             boolean,
    kind           text,
    log_table      text,
    item_id        bigint,
    problem        text,
    rows_checked   bigint,
    blocks_checked bigint,
    head_block     bigint,
    head_hash      text
)
language plpgsql
stable
security definer -- the auditor runs it without reading the archive schema or anything else of the owner's
set search_path = ''
set timezone = 'UTC'
set bytea_output = 'hex'
as $$
declare
    v_blocks bigint;
begin
    select pg_catalog.count(*) into v_blocks from audit.seal_blocks;
    return query
    with v as materialized (
        -- each row with its recomputed hash and the seal range its transaction id falls in (null: unsealed)
        select r.log_table, r.table_order, r.id, r.txid, r.month, r.row_hash, r.computed,
               (select b.xid_from from audit.seal_blocks as b
                where b.xid_from <= r.txid and r.txid < b.xid_to
                order by b.xid_from desc limit 1) as range_from
        from audit.log_rows_rehashed as r
    ),
    candidates (pos, ord, kind, log_table, item_id, problem) as (
        -- a row whose content no longer matches its own hash
        select coalesce(v.range_from, v.txid), 0, 'row', v.log_table, v.id,
               case when v.row_hash is null then 'row has no hash'
                    else 'row content does not match its hash' end
        from v
        where v.row_hash is distinct from v.computed
        union all
        -- rows of a sealed range against the blocks that sealed them
        select coalesce(g.range_from, b.xid_from),
               case when b.id is null then 1 else 2 end,
               case when b.id is null then 'row' else 'block' end,
               coalesce(g.log_table, b.log_table),
               coalesce(b.id, g.first_id),
               case when b.id is null then 'row lies in a sealed range but in no block'
                    when g.n is null then 'every row of the block is missing'
                    when g.n <> b.row_count then pg_catalog.format('block sealed %s rows, %s found', b.row_count, g.n)
                    else 'rows do not match the block (edited, replaced or reordered)' end
        from (select v.log_table, v.month, v.range_from, pg_catalog.count(*) as n, pg_catalog.min(v.id) as first_id,
                     public.digest(pg_catalog.string_agg(coalesce(v.row_hash, ''::bytea), ''::bytea order by v.id),
                                   'sha256') as rows_hash
              from v
              where v.range_from is not null
              group by v.log_table, v.month, v.range_from) as g
        full join (select sb.* from audit.seal_blocks as sb
                   where not exists (select from audit.retired_partitions as rp
                                     where rp.log_table = sb.log_table and rp.month = sb.month)) as b
               on b.log_table = g.log_table and b.month = g.month and b.xid_from = g.range_from
        where b.id is null or g.n is null or g.n <> b.row_count or g.rows_hash <> b.rows_hash
        union all
        -- the chain itself: each block's own hash, its link to the previous one, no gap in the ids
        select c.xid_from, 3, 'block', c.log_table, c.id,
               case when c.block_hash <> audit.block_hash(c.b) then 'block content does not match its hash'
                    when c.prev_hash <> coalesce(c.expected_prev, audit.genesis_hash())
                        then 'block does not link to the previous block'
                    else 'block ids are not consecutive' end
        from (select sb.*, sb as b,
                     pg_catalog.lag(sb.block_hash) over w as expected_prev,
                     coalesce(pg_catalog.lag(sb.id) over w, 0) as expected_id
              from audit.seal_blocks as sb
              window w as (order by sb.id)) as c
        where c.block_hash <> audit.block_hash(c.b)
           or c.prev_hash <> coalesce(c.expected_prev, audit.genesis_hash())
           or c.id <> c.expected_id + 1
    )
    select f.kind is null, f.kind, f.log_table, f.item_id, f.problem, (select pg_catalog.count(*) from v),
           v_blocks, h.block_id, h.block_hash
    from (select 1) as one
    left join lateral (select * from candidates as c order by c.pos, c.ord, c.item_id limit 1) as f on true
    left join lateral audit.head() as h on true;
end
$$;
comment on function audit.verify() is
    'Recomputes every log row''s hash, regroups the sealed rows into their blocks, and rechecks the block '
    'chain. Returns one row: ok, or the first row or block (in sealing order) that does not match and why, '
    'with the current head. A rewritten tail is only caught by comparing head_hash with a copy kept '
    'outside the database.';
