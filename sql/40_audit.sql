-- The audit trail: who did what, when, from where — written by triggers, append-only, tamper-evident.
--
-- Read top to bottom:
--   1. error codes of this area
--   2. row hashing: the canonical encoding every log row's SHA-256 is taken over
--   3. the log tables' own columns and triggers: context, transaction id and role as defaults; control
--      characters escaped; UPDATE/DELETE/TRUNCATE refused
--   4. writing events: private.log_event (security and admin events), private.log_access_refused
--   5. change audit: the row trigger attached to audited tables, and order events into order_logs
--   6. audit.enable_tracking / audit.disable_tracking (the list of tables is sql/85_audit_tracking.sql)
--   7. partitions: audit.ensure_partitions, audit.retire_partitions, audit.record_archive, audit.drop_archived
--   8. sealing: audit.seal, audit.head
--   9. verifying: audit.verify
--  10. rows from before the audit trail
--
-- Why not one hash chain at insert: every insert would lock one head row, which measured here cut insert
-- throughput to about a quarter at 4 clients. Why not even a row hash at insert: until a row is sealed,
-- whoever can change it (only someone who can switch the triggers off) can recompute its hash too, so a
-- hash taken then proves nothing a hash taken at sealing does not, and it was a third of an audited
-- write's cost. So a write only inserts its row; audit.seal(), every few seconds, hashes the rows of the
-- finished transactions (kept in audit.row_hashes) and chains them into blocks. Rows written before
-- migration 20261202_01 keep the hash they got at insert, in their own row_hash column.

-- 1. Error codes ------------------------------------------------------------------------------------

insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRF90', 'audit_log_append_only', 403, 'Log tables, seal blocks and retired partitions are append-only: rows are never updated or deleted.'),
    ('SRC90', 'audit_seal_isolation', 409, 'audit.seal() must run in a READ COMMITTED transaction.'),
    ('SRC91', 'audit_partition_unsealed', 409, 'A log partition still holds rows that are not sealed.'),
    ('SRC92', 'audit_xid_counter_behind', 409, 'The cluster''s transaction counter is behind the last seal '
                                                'block (restored into another cluster): move it forward with pg_resetwal.'),
    ('SRC93', 'audit_partition_not_archived', 409, 'An archived log partition is dropped only after a dump of it '
                                                   'was recorded, and only with that dump''s SHA-256.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;

-- 2. Row hashing ------------------------------------------------------------------------------------

create or replace function audit.row_hash(p_table text, p_row jsonb)
returns bytea
language sql
stable  -- convert_to is stable: a body more volatile than its function is not inlined
parallel safe
-- No `set search_path` here on purpose: a function with a SET clause is never inlined, and called as a
-- function, once per row, this costs three times the hashing itself (verify() rehashes every log row).
-- Every function below is schema-qualified and the operators are pg_catalog's (searched first whatever
-- the path); its callers (audit.verify, audit.block_hash) run with search_path ''. Pass p_row as a column
-- (audit.log_rows_rehashed does): inlined, each mention of p_row evaluates its argument again.
as $$
    -- The encoding: the table name, length-prefixed, then the row's non-null columns as jsonb text.
    -- jsonb text is canonical (keys sorted, one spelling per value) and JSON quoting delimits every key
    -- and value, so two different rows never encode to the same bytes. Measured here, this is four times
    -- cheaper than prefixing each column with its length through jsonb_each, on every log insert.
    -- jsonb_strip_nulls strips at every depth, so the jsonb columns of logs (details and the images,
    -- where a key with a null value means something) are left out of it and follow, each length-prefixed,
    -- whole. Rows written before migration 20261202_01 were hashed at insert with these same bytes, and
    -- audit.seal() hashes the later ones with this function: the encoding never changes.
    select public.digest(
        pg_catalog.convert_to(
            pg_catalog.octet_length(p_table) || ':' || p_table
            || case when p_table = 'logs'
                    then pg_catalog.jsonb_strip_nulls(p_row - '{row_hash,details,before_image,after_image}'::text[])::text
                         || pg_catalog.octet_length(coalesce((p_row -> 'details')::text, 'null')) || ':'
                         || coalesce((p_row -> 'details')::text, 'null')
                         || pg_catalog.octet_length(coalesce((p_row -> 'before_image')::text, 'null')) || ':'
                         || coalesce((p_row -> 'before_image')::text, 'null')
                         || pg_catalog.octet_length(coalesce((p_row -> 'after_image')::text, 'null')) || ':'
                         || coalesce((p_row -> 'after_image')::text, 'null')
                    else pg_catalog.jsonb_strip_nulls(p_row - '{row_hash,block_hash}'::text[])::text end,
            'UTF8'),
        'sha256')
$$;
comment on function audit.row_hash(text, jsonb) is
    'SHA-256 of a log row (or seal block) given as jsonb (to_jsonb(row) with TimeZone UTC and bytea_output '
    'hex): the table name, length-prefixed, then the non-null columns as canonical jsonb text. Null columns '
    'are left out, so adding a nullable column to a log table does not change the hash of existing rows. '
    'It has no SET clause so that verify() and block_hash() can inline it (their search_path is empty).';

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

-- 3. The log tables' own columns and triggers ------------------------------------------------------

-- Log injection: no control character but tab reaches a log table. A DBA reads these tables in a
-- terminal (psql prints text raw: a newline forges a line, ESC [2J clears the screen), so every writer
-- escapes every C0 and C1 control character except tab, in every text and jsonb value it writes, as \xHH
-- (visible, and never mistaken for the character), through audit.printable_text and audit.printable_json
-- below. Only a value that holds one pays.
create or replace function audit.printable(p_text text) returns text
language sql immutable strict
set search_path = ''
as $$
    select coalesce(pg_catalog.string_agg(
               case when t.c ~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]'
                    then '\x' || pg_catalog.lpad(pg_catalog.to_hex(pg_catalog.ascii(t.c)), 2, '0')
                    else t.c end, '' order by t.n), '')
      from pg_catalog.regexp_split_to_table(p_text, '') with ordinality as t(c, n)
$$;
comment on function audit.printable(text) is
    'The text with every control character but tab written as \xHH: what may reach a log table.';

create or replace function audit.printable_jsonb(p_value jsonb) returns jsonb
language plpgsql immutable strict
set search_path = ''
as $$
begin
    return case pg_catalog.jsonb_typeof(p_value)
        when 'string' then pg_catalog.to_jsonb(audit.printable(p_value #>> '{}'))
        when 'object' then coalesce((select pg_catalog.jsonb_object_agg(audit.printable(e.key),
                                                                        audit.printable_jsonb(e.value))
                                       from pg_catalog.jsonb_each(p_value) as e), '{}'::jsonb)
        when 'array' then coalesce((select pg_catalog.jsonb_agg(audit.printable_jsonb(a.value) order by a.n)
                                      from pg_catalog.jsonb_array_elements(p_value) with ordinality as a(value, n)),
                                   '[]'::jsonb)
        else p_value
    end;
end
$$;
comment on function audit.printable_jsonb(jsonb) is 'audit.printable applied to every key and string inside a jsonb value.';

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
    'Refuses UPDATE, DELETE and TRUNCATE on log tables, their partitions, seal blocks, row hashes and retired '
    'partitions, for every role including the owner (who can still disable triggers: the hashes are for that).';

-- What fills a log row's own columns. txid and db_role are column defaults (migration 20261202_01): the
-- writing transaction (sealing relies on it) and the role the session acts as. The request context
-- (actor, request ids, client address) defaults to what this transaction's request context holds
-- (private.caller_id() and its siblings, sql/10_context.sql; set here, not in a migration, because they
-- are defined after the migrations run). A writer may name the context itself, as the audit trigger does
-- (one read of the context for the whole row) and the API's batch of calls does (each call's caller).
-- Defaults, not a BEFORE trigger: a PL/pgSQL trigger, or even a WHEN condition or a CHECK constraint, on
-- every log insert cost as much as the rest of the insert (bench/audit; README, "Performance").
--
-- Nobody can forge txid or db_role: no runtime role may insert into a log table (sql/90_grants.sql), and
-- none of the SECURITY DEFINER functions that insert for them names either column or lets its caller
-- name one (tests/sql/test_audit.py). Who may insert directly is the owner or a superuser, who can switch
-- any trigger off as well; against them the seal and the hashes are the defence.
--
-- Log injection is handled where rows are written: every writer passes its text through
-- audit.printable_text and its jsonb through audit.printable_json (the audit trigger checks its images
-- inline), which rewrite a value only when it holds a control character. The request ids that the column
-- defaults and the audit trigger take from the request context are printable already: private.write_context
-- (sql/10_context.sql) keeps them so.
do $$
declare
    v_table text;
begin
    foreach v_table in array array['logs', 'order_logs', 'key_logs'] loop
        execute format('drop trigger if exists _990_stamp on public.%I', v_table);
        execute format('alter table public.%I alter column actor_id set default private.caller_id(), '
                       'alter column request_id set default private.request_id(), '
                       'alter column client_request_id set default private.client_request_id(), '
                       'alter column client_addr set default coalesce(private.client_addr(), pg_catalog.inet_client_addr())',
                       v_table);
        execute format('drop trigger if exists _010_append_only on public.%I', v_table);
        execute format('create trigger _010_append_only before update or delete on public.%I '
                       'for each row execute function audit.tg_log__refuse_change(%L)', v_table, v_table);
        execute format('drop trigger if exists _010_append_only_truncate on public.%I', v_table);
        execute format('create trigger _010_append_only_truncate before truncate on public.%I '
                       'for each statement execute function audit.tg_log__refuse_change(%L)', v_table, v_table);
    end loop;
end
$$;
drop function if exists audit.tg_log__stamp();

create or replace function audit.printable_text(p_text text) returns text
language sql immutable parallel safe
set search_path = ''
as $$
    select case when p_text ~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]' then audit.printable(p_text) else p_text end
$$;
comment on function audit.printable_text(text) is
    'The text as it may reach a log table: audit.printable of it if it holds a control character but tab, '
    'else the text itself.';

create or replace function audit.printable_json(p_value jsonb) returns jsonb
language sql immutable parallel safe
set search_path = ''
as $$
    -- As JSON text a control character shows as an unescaped \n, \r, \b, \f or \u00XX (tab is \t,
    -- allowed), or raw for DEL and C1: only such a value is rewritten.
    select case when p_value::text ~* '(^|[^\\])(\\\\)*\\([nrbf]|u00(0[0-8]|0[b-f]|1[0-9a-f]))|[\x7f-\x9f]'
                then audit.printable_jsonb(p_value) else p_value end
$$;
comment on function audit.printable_json(jsonb) is
    'The jsonb value as it may reach a log table: audit.printable_jsonb of it if a key or string in it holds '
    'a control character but tab, else the value itself.';

-- Partitions inherit the row triggers above (PostgreSQL clones them), not the TRUNCATE statement
-- trigger: audit.ensure_partitions (section 7) gives each partition its own.
-- Seal blocks, the row hashes they cover and retired_partitions are append-only as well: a row in
-- retired_partitions takes a month out of what verify() checks. Its archive bookkeeping (section 7: which dump holds the month, and
-- when the table was dropped) is filled in later, so an UPDATE may set those columns and nothing else,
-- and not once the table is dropped.
create or replace function audit.tg_retired_partitions__guard()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if (new.id, new.log_table, new.month, new.archived_as, new.row_count, new.retired_at, new.retired_by)
           is distinct from
       (old.id, old.log_table, old.month, old.archived_as, old.row_count, old.retired_at, old.retired_by)
       or old.dropped_at is not null then
        raise exception 'retired_partitions is append-only: only a retired month''s archive record may be '
                        'filled in, until its table is dropped'
            using errcode = 'SRF90',
                  hint = 'audit.record_archive() and audit.drop_archived() write the archive record.';
    end if;
    return new;
end
$$;
comment on function audit.tg_retired_partitions__guard() is
    'BEFORE UPDATE on audit.retired_partitions: only the archive columns (archive_file, archive_sha256, '
    'archived_at/_by, dropped_at/_by) may change, and only while the table is not dropped (SRF90).';

do $$
declare
    v_table text;
begin
    foreach v_table in array array['seal_blocks', 'row_hashes', 'retired_partitions'] loop
        execute format('drop trigger if exists _010_append_only on audit.%I', v_table);
        execute format('create trigger _010_append_only before %s on audit.%I '
                       'for each row execute function audit.tg_log__refuse_change()',
                       case v_table when 'retired_partitions' then 'delete' else 'update or delete' end, v_table);
        execute format('drop trigger if exists _010_append_only_truncate on audit.%I', v_table);
        execute format('create trigger _010_append_only_truncate before truncate on audit.%I '
                       'for each statement execute function audit.tg_log__refuse_change()', v_table);
    end loop;
end
$$;
drop trigger if exists _011_archive_record_only on audit.retired_partitions;
create trigger _011_archive_record_only before update on audit.retired_partitions
    for each row execute function audit.tg_retired_partitions__guard();

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
security definer  -- callers (runtime roles inside api functions) may not insert into logs themselves
set search_path = ''
as $$
    insert into public.logs (level, component, action, message, details, user_id)
    values (audit.printable_text(p_level), audit.printable_text(p_component), audit.printable_text(p_action),
            audit.printable_text(p_message), audit.printable_json(p_details), coalesce(p_user_id, private.caller_id()))
$$;
comment on function private.log_event(text, text, text, text, jsonb, integer) is
    'Writes one event into logs; never pass a secret. p_user_id is the user the event is about (e.g. the '
    'account a failed login named; default: the caller); actor, request id, client address, database role '
    'and transaction id come from the request context and the database; control characters are escaped '
    '(audit.printable_text). The row rolls back with the caller''s transaction: '
    'a function that logs a failure must return a status instead of raising.';

create or replace function private.log_access_refused(p_table text, p_row_id bigint)
returns void
language plpgsql
security definer  -- as private.log_event; and to look past row-level security (below)
set search_path = ''
as $$
-- A DBA must tell a probe of someone else's object from an ordinary miss (an id that belongs to nobody,
-- the caller's own note they deleted a minute ago). The object's table is looked at past row-level
-- security, through the key maintenance flag that lets the owner see every row (sql/30_crypto.sql), set
-- for this one query and restored: the row exists, so it is someone else's -> access_refused (WARNING); no
-- such row -> not_found (INFO). Only existence is read, never a value.
declare
    v_flag text := pg_catalog.current_setting('strongroom.key_maintenance', true);
    v_exists boolean;
begin
    perform private.set_key_maintenance(true);
    v_exists := case p_table
        when 'orders' then exists (select from public.orders as o where o.id = p_row_id)
        when 'entries' then exists (select from public.entries as e where e.id = p_row_id)
        when 'vault' then exists (select from public.vault as v where v.id = p_row_id)
        else true  -- a table this list does not know: the cautious reading
    end;
    perform pg_catalog.set_config('strongroom.key_maintenance', coalesce(v_flag, ''), true);
    insert into public.logs (level, component, action, message, details, user_id, table_name, row_id)
    values (case when v_exists then 'WARNING' else 'INFO' end, 'authz',
            case when v_exists then 'access_refused' else 'not_found' end,
            audit.printable_text(
                case when v_exists then pg_catalog.format('access to %s %s refused: it belongs to another user', p_table, p_row_id)
                     else pg_catalog.format('%s %s not found', p_table, p_row_id) end),
            audit.printable_json(pg_catalog.jsonb_build_object('table', p_table, 'row_id', p_row_id)),
            private.caller_id(), audit.printable_text(p_table), p_row_id);
end
$$;
comment on function private.log_access_refused(text, bigint) is
    'Records that the caller asked for an object they may not see: access_refused (WARNING) when it belongs '
    'to another user, not_found (INFO) when no such row exists (never existed, or deleted). The calling api '
    'function must then answer "not found" WITHOUT raising (return null or no rows), so this row commits '
    'with the request; a raise would roll it back.';

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
-- No SET clause, and not SECURITY DEFINER: each costs a configuration save and restore, or a switch of
-- user, on every audited write (bench/audit). That is safe because the trigger runs with the rights of
-- whoever writes, and only our own code and the owner write: no runtime role may insert, update or delete
-- an audited table (sql/90_grants.sql; tests/test_privileges.py); they change them only through our
-- SECURITY DEFINER functions, which run as the owner (who may write the log tables) with their own SET
-- search_path = '' in force when the trigger fires. Anyone else who writes to an audited table is the
-- owner or a superuser, who can replace this function anyway; a role given the right to change an audited
-- table and nothing else is refused (it may not insert into logs), so no change goes unaudited. Every
-- relation, function and type below is schema-qualified all the same: a session's temporary schema, the
-- one place a runtime role may create objects, is searched first for relations and types whatever the
-- search_path, even '' (tests/sql/test_audit.py holds a temporary table named like one).
-- TimeZone: the images must spell timestamps the same way whoever writes, which only matters for a table
-- with a timestamptz or timetz column: enable_tracking attaches audit.tg_row__audit_utc (below, the same
-- body with SET timezone = 'UTC') to those, this one to the rest. bytea_output does not matter, every
-- bytea column being redacted.
-- Measured against bench/audit: plain statements only. PL/pgSQL prepares each simple expression again in
-- every transaction, and a SQL function it calls is not inlined: what the trigger needs is written out.
as $$
declare
    v_op pg_catalog.text := pg_catalog.lower(tg_op);
    v_old pg_catalog.jsonb;
    v_new pg_catalog.jsonb;
    v_details pg_catalog.jsonb;
    v_sensitive pg_catalog.bool := false;
    v_id pg_catalog.text;
    v_table pg_catalog.text := tg_table_name;
    v_secret pg_catalog.text;
    v_event pg_catalog.text;
    v_event_details pg_catalog.text;
    v_order_events pg_catalog.bool := false;
begin
    if tg_op <> 'DELETE' then
        v_new := pg_catalog.to_jsonb(new);
    end if;
    if tg_op <> 'INSERT' then
        v_old := pg_catalog.to_jsonb(old);
    end if;
    if tg_op = 'UPDATE' then
        select pg_catalog.jsonb_build_object('changed', coalesce(pg_catalog.jsonb_agg(k order by k), '[]')),
               coalesce(pg_catalog.bool_or(k like 'sensitive%'), false)
        into v_details, v_sensitive
        from pg_catalog.jsonb_object_keys(v_new) as k
        where v_new -> k is distinct from v_old -> k;
    end if;
    -- audit.redact(image, tg_argv), unrolled: a SQL function called from PL/pgSQL is not inlined.
    foreach v_secret in array coalesce(tg_argv, '{}') loop
        if v_old -> v_secret <> 'null'::pg_catalog.jsonb then
            v_old := pg_catalog.jsonb_set(v_old, array[v_secret], '"[redacted]"');
        end if;
        if v_new -> v_secret <> 'null'::pg_catalog.jsonb then
            v_new := pg_catalog.jsonb_set(v_new, array[v_secret], '"[redacted]"');
        end if;
    end loop;
    -- Log injection: as JSON text a control character shows as a backslash escape, or raw (DEL, C1). Only
    -- then (or for a quote or a backslash, which audit.printable_json tells apart) are the images escaped.
    if (coalesce(v_new::pg_catalog.text, '') || coalesce(v_old::pg_catalog.text, '') || tg_table_name)
           ~ '[\\\x01-\x08\x0a-\x1f\x7f-\x9f]' then
        v_new := audit.printable_json(v_new);
        v_old := audit.printable_json(v_old);
        v_details := audit.printable_json(v_details);
        v_table := audit.printable_text(tg_table_name);
    end if;
    v_id := coalesce(v_new, v_old) ->> 'id';
    if tg_table_name = 'orders' and tg_table_schema = 'public' then
        -- The order's history in order_logs, written by the same statement as its change row: one trigger,
        -- one read of the request context. Events: created, status_changed (details {from, to}),
        -- sensitive_changed (a column named sensitive* changed: the fact, never a value), deleted.
        v_event := case tg_op when 'INSERT' then 'created' when 'DELETE' then 'deleted'
                   else case when v_new -> 'status' is distinct from v_old -> 'status' then 'status_changed' end end;
        v_event_details := case v_event
            when 'created' then pg_catalog.jsonb_build_object('status', v_new -> 'status')::pg_catalog.text
            when 'deleted' then pg_catalog.jsonb_build_object('status', v_old -> 'status')::pg_catalog.text
            when 'status_changed' then pg_catalog.jsonb_build_object('from', v_old -> 'status',
                                                                     'to', v_new -> 'status')::pg_catalog.text
        end;
        v_order_events := v_event is not null or v_sensitive;
    end if;
    -- The request context, read once, fills actor_id and user_id (the caller; null for a DBA's session,
    -- whose db_role says who), the request ids and the client address; txid and db_role are the log
    -- tables' defaults, and audit.seal() hashes the row.
    if not v_order_events then
        insert into public.logs (level, component, action, message, details, user_id, table_name, row_id,
                                 before_image, after_image, actor_id, request_id, client_request_id, client_addr)
        select 'INFO', 'audit', v_op, v_op || ' ' || v_table || ' ' || v_id, v_details, c.user_id,
               v_table, v_id::bigint, v_old, v_new,
               c.user_id, c.request_id, c.client_request_id, coalesce(c.client_addr, pg_catalog.inet_client_addr())
        from (select) as one left join private.current_context as c on true;
    else
        with c as (
            select c.user_id, c.request_id, c.client_request_id,
                   coalesce(c.client_addr, pg_catalog.inet_client_addr()) as client_addr
            from (select) as one left join private.current_context as c on true
        ), change as (
            insert into public.logs (level, component, action, message, details, user_id, table_name, row_id,
                                     before_image, after_image, actor_id, request_id, client_request_id, client_addr)
            select 'INFO', 'audit', v_op, v_op || ' ' || v_table || ' ' || v_id, v_details, c.user_id,
                   v_table, v_id::bigint, v_old, v_new,
                   c.user_id, c.request_id, c.client_request_id, c.client_addr
            from c
            returning 1
        )
        -- reading change's output makes its row the first one written, as the order's events follow it
        insert into public.order_logs (order_id, action, details, actor_id, request_id, client_request_id, client_addr)
        select v_id::integer, e.action, e.details, c.user_id, c.request_id, c.client_request_id, c.client_addr
        from c cross join change cross join (values (1, v_event, v_event_details),
                                  (2, case when v_sensitive then 'sensitive_changed' end, null)) as e(n, action, details)
        where e.action is not null
        order by e.n;
    end if;
    return null;
end
$$;
comment on function audit.tg_row__audit() is
    'AFTER INSERT/UPDATE/DELETE on an audited table: one logs row with before/after images (secret columns, '
    'given as trigger arguments, redacted; their change still listed in details.changed). user_id and '
    'actor_id are the caller (null for a DBA''s session: db_role says who); the row''s owner is in the images. '
    'On public.orders also the order''s events in order_logs (created; status_changed with details {from, '
    'to}; sensitive_changed, without the value; deleted), in the same statement. It has no SET clause and runs '
    'with the writer''s rights: only our SECURITY DEFINER functions and the owner write audited tables.';

-- The same trigger for tables with a timestamptz or timetz column: their images spelled in UTC whoever
-- writes. One body: this copies audit.tg_row__audit's every time the file is applied. It pins search_path
-- as well: it pays for one SET clause anyway, and those tables (users) are written far less often.
do $$
begin
    execute pg_catalog.format(
        'create or replace function audit.tg_row__audit_utc() returns trigger language plpgsql '
        'set timezone = ''UTC'' set search_path = '''' as %L',
        (select p.prosrc from pg_catalog.pg_proc as p where p.oid = 'audit.tg_row__audit()'::pg_catalog.regprocedure));
end
$$;
comment on function audit.tg_row__audit_utc() is
    'audit.tg_row__audit with TimeZone UTC, for audited tables with a timestamptz or timetz column '
    '(audit.enable_tracking picks it), so that their images spell times the same way whoever writes.';

-- Order events used to have a trigger of their own; audit.tg_row__audit writes them now.
drop trigger if exists _910_order_events on public.orders;
drop function if exists audit.tg_orders__order_events();

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
        'for each row execute function %s(%s)',
        p_table,
        -- A table whose images would spell a time in the writer's TimeZone gets the trigger that sets UTC.
        case when exists (select from pg_catalog.pg_attribute as a
                          where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
                            and a.atttypid in ('pg_catalog.timestamptz'::pg_catalog.regtype,
                                               'pg_catalog.timetz'::pg_catalog.regtype,
                                               'pg_catalog._timestamptz'::pg_catalog.regtype,
                                               'pg_catalog._timetz'::pg_catalog.regtype))
             then 'audit.tg_row__audit_utc' else 'audit.tg_row__audit' end,
        (select coalesce(pg_catalog.string_agg(pg_catalog.quote_literal(c), ', '), '')
         from pg_catalog.unnest(v_secrets) as c));
end
$$;
comment on function audit.enable_tracking(regclass, text[]) is
    'Attaches the change-audit trigger to a table; p_secret_columns, every bytea column and every column '
    'named like password/secret/cipher/blind/token are redacted in the images. A table with a timestamptz '
    'or timetz column gets audit.tg_row__audit_utc (images in UTC), any other audit.tg_row__audit. On '
    'public.orders the trigger writes the order events too. Idempotent.';

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

-- The partitions live in schema log_partitions (migration 20261201_36), not public: a DBA's `\dt` then
-- shows the seven tables of the specification and the few of ours, not one row per log month. Queries
-- read the parents (public.logs, order_logs, key_logs) as before; partitions a DBA attaches elsewhere, or
-- made before that migration, are found wherever they are.
create or replace function audit.partition_of(p_name text) returns regclass
language sql
stable
set search_path = ''
as $$
    select p.inhrelid::regclass
    from pg_catalog.pg_inherits as p
    join pg_catalog.pg_class as c on c.oid = p.inhrelid
    where p.inhparent in ('public.logs'::regclass, 'public.order_logs'::regclass, 'public.key_logs'::regclass)
      and c.relname = p_name
$$;
comment on function audit.partition_of(text) is
    'The log partition named p_name (e.g. logs_y2026m11), in whichever schema it is; null if there is none.';

create or replace function audit.ensure_partitions(p_months_ahead integer default 3)
returns integer
language plpgsql
set search_path = ''
as $$
declare
    v_table text;
    v_month timestamptz;
    v_name text;
    v_made integer := 0;
    v_row record;
begin
    foreach v_table in array array['logs', 'order_logs', 'key_logs'] loop
        for v_month in
            select pg_catalog.generate_series(
                       pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC'),
                       pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC')
                           + pg_catalog.make_interval(months => p_months_ahead),
                       interval '1 month')
        loop
            v_name := audit.partition_name(v_table, v_month);
            continue when audit.partition_of(v_name) is not null;
            execute pg_catalog.format(
                'create table log_partitions.%I partition of public.%I for values from (%L) to (%L)',
                v_name, v_table, v_month, v_month + interval '1 month');
            v_made := v_made + 1;
        end loop;
    end loop;
    -- Every partition (new, old, the default, one a DBA attached) gets the TRUNCATE guard its parent's
    -- statement trigger does not give it; UPDATE/DELETE are refused by the parent's cloned row trigger.
    -- Only where missing or disabled: no lock on the partitions writers are using.
    for v_row in
        select p.inhrelid::regclass as part, pc.relname::text as log_table
        from pg_catalog.pg_inherits as p
        join pg_catalog.pg_class as pc on pc.oid = p.inhparent
        where p.inhparent in ('public.logs'::regclass, 'public.order_logs'::regclass, 'public.key_logs'::regclass)
          and not exists (select from pg_catalog.pg_trigger as tg
                          where tg.tgrelid = p.inhrelid and tg.tgname = '_010_append_only_truncate'
                            and tg.tgenabled <> 'D')
    loop
        execute pg_catalog.format('drop trigger if exists _010_append_only_truncate on %s', v_row.part);
        execute pg_catalog.format('create trigger _010_append_only_truncate before truncate on %s '
                                  'for each statement execute function audit.tg_log__refuse_change(%L)',
                                  v_row.part, v_row.log_table);
    end loop;
    return v_made;
end
$$;
comment on function audit.ensure_partitions(integer) is
    'Creates the monthly partitions of the log tables from this month to p_months_ahead ahead (UTC months), '
    'and gives every partition that lacks it (or has it disabled) the trigger refusing TRUNCATE. Returns how '
    'many partitions it created. Run by every migrate and by audit.seal() when next month''s partition is '
    'missing.';

-- Every migrate re-applies this file: the months ahead exist before anyone writes into them, and every
-- partition has its TRUNCATE guard.
select audit.ensure_partitions();

-- Retention, in three steps a DBA can follow and `strongroom audit retire` runs in order:
--   retire_partitions  detach each old, fully sealed month into schema audit_archive (no runtime role reads it)
--   record_archive     note the verified dump of an archived table: its file name and SHA-256
--   drop_archived      drop an archived table, but only one whose dump was recorded, naming that dump's hash
-- A table is never dropped before a dump of it was checked, so nothing is lost when a step fails.

drop function if exists audit.retirable_partitions(integer);
create function audit.retirable_partitions(p_keep_months integer default null)
returns table (log_table text, partition_name text, month timestamptz)
language sql
stable
set search_path = ''
set timezone = 'UTC'
as $$
    select (select pc.relname::text from pg_catalog.pg_class as pc where pc.oid = p.inhparent),
           c.relname::text,
           b.month
    from pg_catalog.pg_inherits as p
    join pg_catalog.pg_class as c on c.oid = p.inhrelid
    cross join lateral (
        select (pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid), '''([^'']+)'''))[1]::timestamptz
            as month) as b
    where p.inhparent in ('public.logs'::regclass, 'public.order_logs'::regclass, 'public.key_logs'::regclass)
      and not c.relpartbound is null
      and pg_catalog.pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
      and b.month + interval '1 month'
          <= pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC')
             - pg_catalog.make_interval(months => coalesce(
                   p_keep_months,
                   (select s.value::integer from audit.settings as s where s.name = 'retention_months')))
    order by 3, 1
$$;
comment on function audit.retirable_partitions(integer) is
    'The log partitions audit.retire_partitions(p_keep_months) would move to audit_archive now: those whose '
    'UTC month ended more than p_keep_months (default: audit.settings retention_months) whole months ago.';

create or replace procedure audit.retire_partitions(p_keep_months integer default null)
language plpgsql
set search_path = ''
set timezone = 'UTC'
as $$
declare
    v_horizon xid8 := (select b.xid_to from audit.seal_blocks as b order by b.id desc limit 1);
    v_row record;
    v_rows bigint;
    v_unsealed bigint;
    v_part regclass;
begin
    for v_row in select * from audit.retirable_partitions(p_keep_months) loop
        execute pg_catalog.format('select count(*), count(*) filter (where $1 is null or txid >= $1) from %s',
                                  audit.partition_of(v_row.partition_name))
            into v_rows, v_unsealed using v_horizon;
        if v_unsealed > 0 then
            raise exception 'partition % still has % unsealed rows', v_row.partition_name, v_unsealed
                using errcode = 'SRC91', hint = 'Run audit.seal() first.';
        end if;
        v_part := audit.partition_of(v_row.partition_name);
        execute pg_catalog.format('alter table public.%I detach partition %s', v_row.log_table, v_part);
        execute pg_catalog.format('alter table %s set schema audit_archive', v_part);
        -- Detaching drops the row triggers the partition had from its parent: the archived month stays
        -- append-only until it is dumped and dropped.
        execute pg_catalog.format('create trigger _010_archived_append_only before update or delete on '
                                  'audit_archive.%I for each row execute function audit.tg_log__refuse_change(%L)',
                                  v_row.partition_name, v_row.log_table);
        execute pg_catalog.format('create trigger _010_archived_append_only_truncate before truncate on '
                                  'audit_archive.%I for each statement execute function '
                                  'audit.tg_log__refuse_change(%L)', v_row.partition_name, v_row.log_table);
        insert into audit.retired_partitions (log_table, month, archived_as, row_count)
        values (v_row.log_table, v_row.month, 'audit_archive.' || v_row.partition_name, v_rows);
        perform private.log_event('NOTICE', 'audit', 'partition_retired',
                                  pg_catalog.format('%s month %s (%s rows) moved to audit_archive.%s',
                                                    v_row.log_table, v_row.month, v_rows, v_row.partition_name),
                                  pg_catalog.jsonb_build_object('log_table', v_row.log_table, 'month', v_row.month,
                                                                'rows', v_rows,
                                                                'archived_as', 'audit_archive.' || v_row.partition_name));
    end loop;
end
$$;
comment on procedure audit.retire_partitions(integer) is
    'Retention, step 1: every partition audit.retirable_partitions(p_keep_months) names, if all its rows are '
    'sealed (else SRC91 and nothing moves), is detached and moved to schema audit_archive, recorded in '
    'audit.retired_partitions and logged (partition_retired). Its seal blocks stay in the chain; once that '
    'event is sealed, audit.verify() checks only their links. Then dump it, audit.record_archive, audit.drop_archived '
    '(`strongroom audit retire` does all of it).';

drop procedure if exists audit.record_archive(text, text, text);
create procedure audit.record_archive(p_table text, p_file text, p_sha256 text)
language plpgsql
set search_path = ''
as $$
begin
    if p_sha256 !~ '^[0-9a-f]{64}$' or coalesce(p_file, '') = '' then
        raise exception 'an archive is recorded with its file name and its SHA-256 as 64 lower-case hex digits'
            using errcode = 'SRP50';
    end if;
    update audit.retired_partitions as rp
       set archive_file = p_file, archive_sha256 = p_sha256, archived_at = pg_catalog.now(),
           archived_by = current_user
     where rp.archived_as = 'audit_archive.' || p_table
       and rp.dropped_at is null
       and pg_catalog.to_regclass(pg_catalog.format('audit_archive.%I', p_table)) is not null;
    if not found then
        raise exception 'audit_archive.% is not a retired log partition waiting for its archive', p_table
            using errcode = 'SRC93',
                  hint = 'Only tables audit.retire_partitions() moved to audit_archive, and not yet dropped, qualify.';
    end if;
end
$$;
comment on procedure audit.record_archive(text, text, text) is
    'Retention, step 2: records that audit_archive.<p_table> was dumped to p_file (a name for the DBA; the '
    'database does not read it) whose SHA-256 is p_sha256 (hex). Call it only after checking the dump reads '
    'back (pg_restore --list names the table). A later dump of the same table replaces the record.';

drop procedure if exists audit.drop_archived(text, text);
create procedure audit.drop_archived(p_table text, p_sha256 text)
language plpgsql
set search_path = ''
as $$
declare
    v_retired audit.retired_partitions;
begin
    select rp.* into v_retired
    from audit.retired_partitions as rp
    where rp.archived_as = 'audit_archive.' || p_table and rp.dropped_at is null
    for update;
    if v_retired.id is null or v_retired.archive_sha256 is null then
        raise exception 'audit_archive.% has no recorded archive: it is not dropped', p_table
            using errcode = 'SRC93',
                  hint = 'Dump it, check the dump, and call audit.record_archive() first.';
    end if;
    if v_retired.archive_sha256 <> p_sha256 then
        raise exception 'audit_archive.% was archived as % with SHA-256 %, not %: it is not dropped',
                        p_table, v_retired.archive_file, v_retired.archive_sha256, p_sha256
            using errcode = 'SRC93', hint = 'Name the hash of the dump that was recorded.';
    end if;
    execute pg_catalog.format('drop table audit_archive.%I', p_table);
    update audit.retired_partitions as rp set dropped_at = pg_catalog.now(), dropped_by = current_user
     where rp.id = v_retired.id;
    perform private.log_event('NOTICE', 'audit', 'partition_dropped',
                              pg_catalog.format('%s month %s (%s rows) dropped; its archive is %s (sha256 %s)',
                                                v_retired.log_table, v_retired.month, v_retired.row_count,
                                                v_retired.archive_file, v_retired.archive_sha256),
                              pg_catalog.jsonb_build_object('log_table', v_retired.log_table,
                                                            'month', v_retired.month,
                                                            'rows', v_retired.row_count,
                                                            'archived_as', v_retired.archived_as,
                                                            'archive_file', v_retired.archive_file,
                                                            'archive_sha256', v_retired.archive_sha256));
end
$$;
comment on procedure audit.drop_archived(text, text) is
    'Retention, step 3: drops audit_archive.<p_table>, refused (SRC93) unless audit.record_archive() '
    'recorded a dump of it with SHA-256 p_sha256; records dropped_at and logs partition_dropped.';

-- 8. Sealing ----------------------------------------------------------------------------------------

create or replace view audit.log_rows as
    select 'logs'::text as log_table, 1 as table_order, l.id::bigint as id, l.txid,
           pg_catalog.date_trunc('month', l.logged_at, 'UTC') as month, coalesce(l.row_hash, h.row_hash) as row_hash
    from public.logs as l
    left join audit.row_hashes as h on h.log_table = 'logs' and h.id = l.id
    union all
    select 'order_logs', 2, o.id, o.txid, pg_catalog.date_trunc('month', o.logged_at, 'UTC'),
           coalesce(o.row_hash, h.row_hash)
    from public.order_logs as o
    left join audit.row_hashes as h on h.log_table = 'order_logs' and h.id = o.id
    union all
    select 'key_logs', 3, k.id, k.txid, pg_catalog.date_trunc('month', k.logged_at, 'UTC'),
           coalesce(k.row_hash, h.row_hash)
    from public.key_logs as k
    left join audit.row_hashes as h on h.log_table = 'key_logs' and h.id = k.id;
comment on view audit.log_rows is
    'The rows of the three log tables in one shape, each with its stored hash: its own row_hash column '
    '(rows written before migration 20261202_01) or the one audit.seal() kept in audit.row_hashes (null '
    'until sealed).';

-- The same rows with their hash recomputed, for verify() only (to_jsonb of every row is its main cost).
create or replace view audit.log_rows_rehashed as
    -- to_jsonb once per row, in a subquery kept apart (offset 0), so the inlined audit.row_hash reads it
    select 'logs'::text as log_table, 1 as table_order, l.id::bigint as id, l.txid,
           pg_catalog.date_trunc('month', l.logged_at, 'UTC') as month, coalesce(l.row_hash, h.row_hash) as row_hash,
           audit.row_hash('logs', l.j) as computed
    from (select x.id, x.txid, x.logged_at, x.row_hash, pg_catalog.to_jsonb(x) as j
          from public.logs as x offset 0) as l
    left join audit.row_hashes as h on h.log_table = 'logs' and h.id = l.id
    union all
    select 'order_logs', 2, o.id, o.txid, pg_catalog.date_trunc('month', o.logged_at, 'UTC'),
           coalesce(o.row_hash, h.row_hash), audit.row_hash('order_logs', o.j)
    from (select x.id, x.txid, x.logged_at, x.row_hash, pg_catalog.to_jsonb(x) as j
          from public.order_logs as x offset 0) as o
    left join audit.row_hashes as h on h.log_table = 'order_logs' and h.id = o.id
    union all
    select 'key_logs', 3, k.id, k.txid, pg_catalog.date_trunc('month', k.logged_at, 'UTC'),
           coalesce(k.row_hash, h.row_hash), audit.row_hash('key_logs', k.j)
    from (select x.id, x.txid, x.logged_at, x.row_hash, pg_catalog.to_jsonb(x) as j
          from public.key_logs as x offset 0) as k
    left join audit.row_hashes as h on h.log_table = 'key_logs' and h.id = k.id;
comment on view audit.log_rows_rehashed is
    'audit.log_rows plus each row''s hash recomputed (meaningful with TimeZone UTC, as verify() runs).';

-- The rows of the transactions in [p_from, p_to) with their hash: the stored one for a row written before
-- migration 20261202_01, else computed now (is_new). For audit.seal(), under TimeZone UTC.
create or replace function audit.rows_to_seal(p_from xid8, p_to xid8)
returns table (log_table text, table_order integer, id bigint, month timestamptz, row_hash bytea, is_new boolean)
language sql
stable
set search_path = ''
set timezone = 'UTC'
set bytea_output = 'hex'
as $$
    -- to_jsonb only for the rows without a hash of their own, once per row (offset 0: see audit.row_hash)
    select 'logs', 1, l.id, pg_catalog.date_trunc('month', l.logged_at, 'UTC'),
           coalesce(l.row_hash, audit.row_hash('logs', l.j)), l.row_hash is null
    from (select x.id, x.logged_at, x.row_hash, case when x.row_hash is null then pg_catalog.to_jsonb(x) end as j
          from public.logs as x where x.txid >= p_from and x.txid < p_to offset 0) as l
    union all
    select 'order_logs', 2, o.id, pg_catalog.date_trunc('month', o.logged_at, 'UTC'),
           coalesce(o.row_hash, audit.row_hash('order_logs', o.j)), o.row_hash is null
    from (select x.id, x.logged_at, x.row_hash, case when x.row_hash is null then pg_catalog.to_jsonb(x) end as j
          from public.order_logs as x where x.txid >= p_from and x.txid < p_to offset 0) as o
    union all
    select 'key_logs', 3, k.id, pg_catalog.date_trunc('month', k.logged_at, 'UTC'),
           coalesce(k.row_hash, audit.row_hash('key_logs', k.j)), k.row_hash is null
    from (select x.id, x.logged_at, x.row_hash, case when x.row_hash is null then pg_catalog.to_jsonb(x) end as j
          from public.key_logs as x where x.txid >= p_from and x.txid < p_to offset 0) as k
$$;
comment on function audit.rows_to_seal(xid8, xid8) is
    'For audit.seal(): the log rows whose transaction id lies in [p_from, p_to), each with its hash (stored, '
    'or computed now: is_new).';

drop function if exists audit.resetwal_target(xid8);
create function audit.resetwal_target(p_xid xid8)
returns table (epoch bigint, next_xid bigint)
language sql
immutable
set search_path = ''
as $$
    -- pg_resetwal -x takes the low 32 bits and -e the high 32. The next id must start a pg_xact segment
    -- (a multiple of 1048576 transactions, per the pg_resetwal documentation): the server creates that
    -- segment's file, whereas with an id inside a segment that does not exist it does not start. So:
    -- the first segment start above the id, into the next epoch if the low 32 bits overflow.
    select case when s.next >= 4294967296 then s.hi + 1 else s.hi end,
           case when s.next >= 4294967296 then 1048576 else s.next end::bigint
    from (select pg_catalog.div(x.v, 4294967296)::bigint as hi,
                 (pg_catalog.div(pg_catalog.mod(x.v, 4294967296), 1048576) + 1) * 1048576 as next
          from (select p_xid::text::numeric as v) as x) as s
$$;
comment on function audit.resetwal_target(xid8) is
    'The pg_resetwal -e (epoch) and -x (next transaction id) that move a fresh cluster''s transaction '
    'counter past p_xid: for restoring a database with seal blocks into another cluster (README, '
    '"Restoring into another cluster"). Pass the last block''s xid_to.';

create or replace function audit.seal()
returns table (block_id bigint, log_table text, month timestamptz, row_count bigint, block_hash text)
language plpgsql
security definer  -- the API's background sealer and admins may seal; only the owner writes seal_blocks
set search_path = ''
set timezone = 'UTC'
set bytea_output = 'hex'
as $$
declare
    v_last audit.seal_blocks;
    v_block audit.seal_blocks;
    v_from xid8;
    v_to xid8;
    v_epoch bigint;
    v_next bigint;
    v_row record;
begin
    -- The horizon below is only safe if this transaction's later statements see everything committed
    -- before it, which REPEATABLE READ and SERIALIZABLE snapshots do not.
    if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
        raise exception 'audit.seal() needs a READ COMMITTED transaction'
            using errcode = 'SRC90';
    end if;
    -- One sealer at a time; readers (verify, the DBA's queries) are not blocked.
    lock table audit.seal_blocks in exclusive mode;

    if audit.partition_of(audit.partition_name(
           'logs', pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC') + interval '1 month')) is null then
        perform audit.ensure_partitions();
    end if;

    select b.* into v_last from audit.seal_blocks as b order by b.id desc limit 1;
    v_from := coalesce(v_last.xid_to, '0'::xid8);
    -- Every transaction with an id below the snapshot's xmin has finished: its rows are visible now and
    -- no new row with such an id can appear. Rows of transactions still running wait for the next seal.
    v_to := pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot());
    -- In one cluster the horizon never moves back. Behind the last block, this database was restored into
    -- another cluster, whose counter started over: rows written now would get ids inside ranges already
    -- sealed, and verify() would report them forever. Refuse until the counter is moved past.
    if v_to < v_from then
        select t.epoch, t.next_xid into v_epoch, v_next from audit.resetwal_target(v_from) as t;
        raise exception 'the transaction counter (%) is behind the last seal block''s xid_to (%): this database '
                        'was restored into another cluster, and nothing can be sealed until the counter is past %',
                        v_to, v_from, v_from
            using errcode = 'SRC92',
                  hint = pg_catalog.format('Freeze, stop the server and move the counter: vacuumdb --all --freeze; '
                                           'pg_ctl stop; pg_resetwal -e %s -x %s -D <data directory>; pg_ctl start '
                                           '(README: "Restoring into another cluster"). Write nothing until then.',
                                           v_epoch, v_next);
    end if;
    if v_to = v_from then
        return;
    end if;

    v_block.id := coalesce(v_last.id, 0);
    v_block.block_hash := coalesce(v_last.block_hash, audit.genesis_hash());
    -- Each row is hashed here, once, as it is now (audit.row_hash): before, it was unsealed, and whoever
    -- could have changed it could as well have recomputed a hash taken at insert. The hashes are kept in
    -- audit.row_hashes, for verify() to name a row that changes later; the block's rows_hash covers them.
    for v_row in
        with r as materialized (
            select * from audit.rows_to_seal(v_from, v_to)
        ), kept as (
            insert into audit.row_hashes (log_table, id, row_hash)
            select r.log_table, r.id, r.row_hash from r where r.is_new
        )
        select r.log_table, r.month, pg_catalog.count(*) as n,
               public.digest(pg_catalog.string_agg(r.row_hash, ''::bytea order by r.id), 'sha256') as rows_hash
        from r
        group by r.table_order, r.log_table, r.month
        order by r.table_order, r.month
    loop
        v_block := row(v_block.id + 1, v_row.log_table, v_row.month, v_from, v_to, v_row.n, v_row.rows_hash,
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
security definer  -- the head hash is public knowledge; seal_blocks itself is for the auditor
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
security definer  -- the auditor runs it without reading the archive schema or anything else of the owner's
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
    -- Retention detaches a month, so its blocks' rows are gone on purpose. retired_partitions alone cannot
    -- say so (its owner wrote it), so a retirement counts only if the sealed log records it: a sealed
    -- partition_retired event naming the same table, month, row count and archive (written by
    -- audit.retire_partitions in the retiring transaction), the month's blocks sealing that many rows,
    -- and the month already over (retention never takes the current month).
    events as materialized (
        select l.details,
               exists (select from audit.seal_blocks as sb
                       where sb.log_table = 'logs' and sb.month = pg_catalog.date_trunc('month', l.logged_at, 'UTC')
                         and sb.xid_from <= l.txid and l.txid < sb.xid_to) as sealed
        from public.logs as l
        where l.component = 'audit' and l.action = 'partition_retired'
    ),
    retired as materialized (
        select rp.id, rp.log_table, rp.month, rp.row_count, bl.sealed_rows, bl.first_from,
               (select pg_catalog.bool_or(e.sealed) from events as e
                where e.details @> pg_catalog.jsonb_build_object('log_table', rp.log_table, 'month', rp.month,
                                                                 'rows', rp.row_count, 'archived_as', rp.archived_as))
                   as recorded,  -- true: sealed event; false: only unsealed ones; null: none
               rp.month < pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC') as past
        from audit.retired_partitions as rp
        cross join lateral (select coalesce(pg_catalog.sum(sb.row_count), 0) as sealed_rows,
                                   pg_catalog.min(sb.xid_from) as first_from
                            from audit.seal_blocks as sb
                            where sb.log_table = rp.log_table and sb.month = rp.month) as bl
    ),
    retirements as (
        select rt.id, rt.log_table, rt.month, rt.first_from,
               case when not coalesce(rt.recorded, false)
                         -- The event itself was logged after the month ended, into a logs month that
                         -- retention has since retired: a proven retirement of a later logs month stands
                         -- for it. (Every month older than that one was due for retention when it ran.)
                         and not coalesce(rt.month < (select pg_catalog.max(lr.month) from retired as lr
                                                      where lr.log_table = 'logs' and lr.recorded and lr.past
                                                        and lr.row_count = lr.sealed_rows), false)
                        then case when rt.recorded is null then 'is not recorded in the sealed log'
                                  else 'is not sealed yet (run audit.seal())' end
                    when not rt.past then 'is of the current or a future month'
                    when rt.row_count <> rt.sealed_rows
                        then pg_catalog.format('claims %s rows, its blocks sealed %s', rt.row_count, rt.sealed_rows)
               end as problem
        from retired as rt
    ),
    candidates (pos, ord, kind, log_table, item_id, problem) as (
        -- a retirement that does not count: named before the blocks it claimed to retire
        select rt.first_from, -1, 'retirement', rt.log_table, rt.id,
               pg_catalog.format('retirement of %s month %s %s', rt.log_table,
                                 pg_catalog.to_char(rt.month, 'YYYY-MM'), rt.problem)
        from retirements as rt
        where rt.problem is not null
        union all
        -- a row whose content no longer matches its own hash: a sealed row, or one that brought its hash
        -- (written before migration 20261202_01); a row written since gets its hash when it is sealed
        select coalesce(v.range_from, v.txid), 0, 'row', v.log_table, v.id,
               case when v.row_hash is null then 'row has no hash'
                    else 'row content does not match its hash' end
        from v
        where (v.range_from is not null or v.row_hash is not null) and v.row_hash is distinct from v.computed
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
                   where not exists (select from retirements as rt
                                     where rt.log_table = sb.log_table and rt.month = sb.month
                                       and rt.problem is null)) as b
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
    'chain; the blocks of a retired month are left out only if a sealed partition_retired event records '
    'that retirement. Returns one row: ok, or the first row, block or retirement (in sealing order) that '
    'does not match and why, with the current head. A rewritten tail is only caught by comparing head_hash '
    'with a copy kept outside the database.';

-- 10. Rows from before the audit trail --------------------------------------------------------------

-- Migration 20261126_31 copied the log rows written before this file existed, without a hash. They need
-- nothing of their own any more: audit.seal() hashes every row it seals that has none, and those rows
-- had the migration's transaction id, so the first seal took them. (This file used to hash them here,
-- until the first seal.)
