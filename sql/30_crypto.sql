-- Data keys, field encryption and the key lifecycle.
--
-- Envelope encryption. Each data key is 32 random bytes (gen_random_bytes), stored in aes_keys.key_value
-- only wrapped by the master key. The master key is never stored: it reaches PostgreSQL as the
-- transaction-local setting strongroom.master_key (set by the API or the CLI with a bound parameter) and
-- is read through private.master_key().
--
-- Field encryption is pgp_sym_encrypt(value, data_key, 'cipher-algo=aes256, s2k-mode=1'): the data key is
-- random, so iterated S2K would only cost time. pgcrypto's OpenPGP mode is CFB with a SHA-1 MDC, not an
-- AEAD: an accepted deviation (README, "Keys and rotation"). To bind a ciphertext to its place, the place
-- (table.column/owner/row id) is part of the password it is encrypted with, so a ciphertext copied into
-- another row or column fails pgcrypto's integrity check, like an altered one, and the api functions
-- report SRK05 instead of showing someone else's data.
--
-- Encryption happens in explicit functions called by the api functions, never in triggers.
--
-- Rotation and writers. Every writer takes the shared advisory lock (21330, 1) when it picks the active
-- key (private.active_key_id); rotate takes it exclusively. So rotate waits for writers that picked the
-- old key to commit, and writers that come after rotate see the new key: once rotate has committed, no
-- new row is written on the old key. reencrypt then moves the rest in batches.
--
-- Key maintenance must see every user's rows even though entries, orders and vault have FORCEd row-level
-- security: the maintenance functions set the transaction-local flag strongroom.key_maintenance to 'on'
-- for their duration, and the policy key_maintenance (to strongroom_owner only) lets the owner see rows
-- while it is on. The flag is trusted exactly as much as the caller claims themselves (only the API and
-- DBAs issue SQL); every api function also filters by the caller explicitly.

insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRK02', 'wrong_master_key', 503,
     'The master key given to the database does not match the one the data keys are wrapped with.'),
    ('SRK03', 'no_active_key', 503,
     'There is no active data key; `strongroom db migrate` creates the first one.'),
    ('SRK04', 'key_retired', 410,
     'The data was encrypted with a retired key whose material has been destroyed.'),
    ('SRK05', 'ciphertext_unreadable', 500,
     'A ciphertext does not decrypt in its place: it was altered, or copied from another row or column.'),
    ('SRK06', 'weak_master_key', 422,
     'A new master key must be at least 32 characters and differ from the current one.'),
    ('SRK07', 'unknown_key', 404, 'No data key has this id.'),
    ('SRC51', 'key_in_use', 409, 'A key cannot be retired while rows still use it, nor while it is active.'),
    ('SRP51', 'bad_batch_size', 422, 'The re-encryption batch size must be between 1 and 100000.'),
    ('SRF51', 'key_admin_only', 403, 'Only an admin (or a DBA at the console) may manage keys.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;


-- ---------------------------------------------------------------------------------------------------
-- Who may manage keys, and how key events are logged
-- ---------------------------------------------------------------------------------------------------

create or replace function private.require_key_admin() returns void
language plpgsql stable set search_path = '' as $$
begin
    -- EXECUTE on the key functions is granted to strongroom_admin only (sql/90_grants.sql). Through the API
    -- (session user = the authenticator) the caller must also be an admin by its claims; a DBA session
    -- (the CLI, psql as owner or superuser) has no claims and is trusted as the database's administrator.
    if session_user::text = 'strongroom_authenticator'
       and private.caller_role() is distinct from 'admin' then
        raise exception 'only an admin may manage keys' using errcode = 'SRF51';
    end if;
end $$;
comment on function private.require_key_admin() is
    'Raises SRF51 unless the caller is an API admin or a DBA session. Used by every key function.';

create or replace function private.log_key_event(p_key_id integer, p_action text, p_details jsonb)
returns void
language plpgsql set search_path = '' as $$
begin
    -- Actor, request and client come from the request context, txid and db_role from the database (the
    -- log tables' defaults); control characters are escaped (audit.printable_json, sql/40_audit.sql:
    -- PL/pgSQL, so that this file can name a function of that later file).
    insert into public.key_logs (key_id, action, details)
    values (p_key_id, audit.printable_text(p_action), audit.printable_json(p_details)::text);
end
$$;
comment on function private.log_key_event(integer, text, jsonb) is
    'Writes one key_logs row with the actor from the request context. Never pass key material.';


-- ---------------------------------------------------------------------------------------------------
-- Wrapping and unwrapping data keys
-- ---------------------------------------------------------------------------------------------------

create or replace function private.master_check(p_key_id integer, p_master text) returns bytea
language sql immutable strict set search_path = '' as $$
    select public.hmac(pg_catalog.convert_to('strongroom master check ' || p_key_id, 'UTF8'),
                       pg_catalog.convert_to(p_master, 'UTF8'), 'sha256');
$$;
comment on function private.master_check(integer, text) is
    'The check value stored in aes_keys.master_check: proves a master key right or wrong without unwrapping.';

create or replace function private.wrap_key(p_data_key bytea, p_master text) returns text
language sql volatile strict set search_path = '' as $$
    -- s2k-mode=1 (salted, one hash): the master key is 256 random bits, so pgcrypto's default iterated
    -- S2K (mode 3, 65536 rounds of SHA-1) adds no strength and cost ~0.45 ms on every unwrap, that is on
    -- every transaction that encrypts or decrypts; mode 1 costs ~5 us. The MDC still detects tampering.
    select public.armor(public.pgp_sym_encrypt_bytea(p_data_key, p_master, 'cipher-algo=aes256, s2k-mode=1'));
$$;
comment on function private.wrap_key(bytea, text) is
    'Wraps a data key with the master key (armored OpenPGP, aes256, salted S2K without iteration).';

create or replace function private.wrap_s2k_mode(p_wrapped text) returns integer
language sql immutable strict set search_path = '' as $$
    -- The wrap is one OpenPGP message whose first packet is the symmetric-key session key packet
    -- (RFC 4880 5.3): new-format tag 3 (0xC3), a one-octet length, version 4, cipher, then the S2K type.
    select case when pg_catalog.get_byte(w, 0) = 195 and pg_catalog.get_byte(w, 2) = 4
                then pg_catalog.get_byte(w, 4) end
      from (select public.dearmor(p_wrapped) as w) m
     where p_wrapped <> '';
$$;
comment on function private.wrap_s2k_mode(text) is
    'The OpenPGP S2K mode of a wrapped data key: 1 as wrap_key writes now, 3 (iterated) for older wraps.';

create or replace function private.rewrap_iterated_keys() returns integer
language plpgsql volatile set search_path = '' as $$
declare
    v_master text := private.master_key();
    v_n integer := 0;
    v_key record;
begin
    -- Keys wrapped before wrap_key used s2k-mode=1 still cost an iterated S2K per unwrap: re-wrap them
    -- under the same master key. unwrap_key proves the master key first (SRK02, nothing changes).
    perform pg_catalog.pg_advisory_xact_lock(21330, 1);
    for v_key in select a.id from public.aes_keys a
              where a.state <> 'retired' and private.wrap_s2k_mode(a.key_value) is distinct from 1
              order by a.id for update loop
        update public.aes_keys a set key_value = private.wrap_key(private.unwrap_key(v_key.id, v_master), v_master)
         where a.id = v_key.id;
        v_n := v_n + 1;
    end loop;
    if v_n > 0 then
        perform private.log_key_event(null, 'rewrapped_cheap_s2k', pg_catalog.jsonb_build_object('keys', v_n));
    end if;
    return v_n;
end $$;
comment on function private.rewrap_iterated_keys() is
    'Re-wraps, under the same master key, every live data key still wrapped with iterated S2K (costly to '
    'unwrap). Run by private.ensure_active_key, so by every `strongroom db migrate`. Returns the keys re-wrapped.';

create or replace function private.unwrap_key(p_key_id integer, p_master text) returns bytea
language plpgsql stable set search_path = '' as $$
declare
    v_key public.aes_keys;
begin
    select * into v_key from public.aes_keys where id = p_key_id;
    if not found then
        raise exception 'data key % does not exist', p_key_id using errcode = 'SRK07';
    end if;
    if v_key.state = 'retired' then
        raise exception 'data key % is retired: the data encrypted with it is gone', p_key_id
            using errcode = 'SRK04';
    end if;
    if v_key.master_check is distinct from private.master_check(p_key_id, p_master) then
        raise exception 'wrong master key: it does not unwrap data key %', p_key_id
            using errcode = 'SRK02',
                  hint = 'Check STRONGROOM_MASTER_KEY; nothing was changed.';
    end if;
    return public.pgp_sym_decrypt_bytea(public.dearmor(v_key.key_value), p_master);
end $$;
comment on function private.unwrap_key(integer, text) is
    'Unwraps one data key after checking the master key against the key''s check value (SRK02 if wrong).';

create or replace function private.load_data_key(p_key_id integer) returns text
language plpgsql volatile set search_path = '' as $$
declare
    v_key text := pg_catalog.encode(private.unwrap_key(p_key_id, private.master_key()), 'hex');
begin
    -- Unwrapping costs as much as a field decrypt, so the unwrapped key is kept for the rest of the
    -- transaction in a transaction-local setting (gone at COMMIT or ROLLBACK, like the master key it
    -- was derived from and which the same transaction already holds).
    perform pg_catalog.set_config('strongroom.dk_' || p_key_id, v_key, true);
    return v_key;
end $$;
comment on function private.load_data_key(integer) is
    'Unwraps data key p_key_id with the master key and keeps it (hex) for the rest of the transaction.';

-- The hot path: data_key, encrypt and decrypt run once per encrypted field. They are plain SQL
-- expressions WITHOUT a SET clause on purpose, so PostgreSQL inlines them into the calling query: a SET
-- clause forbids inlining and costs a configuration save and restore per call (measured: 2 to 5 times
-- the cost of pgcrypto itself). This is safe because they are security invoker, executable only by
-- the owner (from security definer functions that pin search_path), and schema-qualify every name.
create or replace function private.data_key(p_key_id integer) returns text
language sql volatile as $$
    select coalesce(nullif(pg_catalog.current_setting('strongroom.dk_' || p_key_id, true), ''),
                    private.load_data_key(p_key_id));
$$;
comment on function private.data_key(integer) is
    'The unwrapped data key (hex), from the transaction''s cache or unwrapped now. Inlined: no SET clause.';


-- ---------------------------------------------------------------------------------------------------
-- The active key
-- ---------------------------------------------------------------------------------------------------

create or replace function private.active_key_id() returns integer
language plpgsql volatile set search_path = '' as $$
declare
    v_id integer;
begin
    -- Shared with every other writer, exclusive for rotate: see the header of this file.
    perform pg_catalog.pg_advisory_xact_lock_shared(21330, 1);
    select id into v_id from public.aes_keys where state = 'active';
    if v_id is null then
        raise exception 'there is no active data key' using errcode = 'SRK03',
            hint = 'Run `strongroom db migrate`, which creates the first key.';
    end if;
    return v_id;
end $$;
comment on function private.active_key_id() is
    'The active data key for a new write. Holds the rotation lock (shared) until the transaction ends.';

create or replace function private.create_key(p_master text) returns integer
language plpgsql volatile set search_path = '' as $$
declare
    v_id integer := pg_catalog.nextval('public.aes_keys_id_seq');
begin
    insert into public.aes_keys (id, key_label, key_value, is_active, state, master_check)
    values (v_id,
            'dk-' || pg_catalog.to_char(pg_catalog.clock_timestamp() at time zone 'UTC',
                                        'YYYYMMDD"T"HH24MISS"Z"') || '-' || v_id,
            private.wrap_key(public.gen_random_bytes(32), p_master),
            true, 'active', private.master_check(v_id, p_master));
    perform private.log_key_event(v_id, 'created', '{}'::jsonb);
    return v_id;
end $$;
comment on function private.create_key(text) is 'Makes a new active data key wrapped by p_master. Callers hold the rotation lock.';


-- ---------------------------------------------------------------------------------------------------
-- Field encryption
-- ---------------------------------------------------------------------------------------------------

create or replace function private.place(p_table text, p_column text, p_owner integer, p_row integer)
returns text
language sql immutable as $$
    select p_table || '.' || p_column || '/' || coalesce(p_owner::text, '-') || '/' || p_row::text;
$$;
comment on function private.place(text, text, integer, integer) is
    'Where a ciphertext belongs (table.column/owner/row id): part of its key. Inlined: no SET clause.';

create or replace function private.encrypt(p_value text, p_key_id integer, p_place text) returns bytea
language sql volatile as $$
    -- The place is part of the password: pgp_sym_encrypt derives the session key from the salt and
    -- the password (s2k-mode=1), so each place gets its own key and a ciphertext decrypts nowhere else.
    select public.pgp_sym_encrypt(p_value, private.data_key(p_key_id) || '/' || p_place,
                                  'cipher-algo=aes256, s2k-mode=1');
$$;
comment on function private.encrypt(text, integer, text) is
    'Encrypts p_value with data key p_key_id, bound to p_place. Null stays null. Inlined: no SET clause.';

create or replace function private.decrypt(p_cipher bytea, p_key_id integer, p_place text) returns text
language sql volatile as $$
    -- An altered ciphertext, or one copied from another place, fails pgcrypto's integrity check with
    -- SQLSTATE 39000 ("Wrong key or corrupt data"); the api functions turn that into SRK05 once per
    -- call (private.raise_unreadable), not once per row, which would cost a subtransaction per field.
    select public.pgp_sym_decrypt(p_cipher, private.data_key(p_key_id) || '/' || p_place);
$$;
comment on function private.decrypt(bytea, integer, text) is
    'Decrypts a ciphertext written by private.encrypt for p_place; fails (39000) if altered or misplaced. '
    'Inlined: no SET clause.';

create or replace function private.raise_unreadable(p_what text) returns void
language plpgsql volatile set search_path = '' as $$
begin
    raise exception '% does not decrypt: a ciphertext was altered or copied from another row or column', p_what
        using errcode = 'SRK05',
              hint = 'Restore the row from a backup; the data must not be trusted as it is.';
end $$;
comment on function private.raise_unreadable(text) is
    'Raises SRK05. Called by the api functions when pgcrypto refuses a ciphertext (SQLSTATE 39000).';


create or replace function private.blind_index(p_value text, p_key_id integer, p_owner integer) returns bytea
language sql volatile set search_path = '' as $$
    -- HMAC-SHA256 of the owner and the normalised value (trimmed, NFKC, lower case) under a subkey of
    -- the data key, so the index key is never the encryption key and equal values of two owners differ.
    -- Re-encryption recomputes it under the new key.
    select public.hmac(
        pg_catalog.convert_to(p_owner::text || '/' || pg_catalog.lower(normalize(pg_catalog.btrim(p_value), nfkc)), 'UTF8'),
        public.hmac(pg_catalog.convert_to('strongroom blind index', 'UTF8'),
                    pg_catalog.decode(private.data_key(p_key_id), 'hex'), 'sha256'),
        'sha256')
     where p_value is not null;
$$;
comment on function private.blind_index(text, integer, integer) is
    'Blind index for exact, case-insensitive look-up of an encrypted value (the vault''s site).';


-- ---------------------------------------------------------------------------------------------------
-- Key maintenance: see every row while it runs
-- ---------------------------------------------------------------------------------------------------

-- The flag is a transaction-local setting (key maintenance may run in a read-only transaction, where the
-- request context cannot be written), but not one a caller can forge: its value must be an HMAC, under a
-- secret no runtime role reads (private.maintenance_secret), of this backend and this transaction's start.
create or replace function private.maintenance_token() returns text
language sql stable
security definer  -- reads private.maintenance_secret for the owner's key_maintenance policies
set search_path = ''
as $$
    select pg_catalog.encode(public.hmac(pg_catalog.convert_to(pg_catalog.pg_backend_pid()::text || '/' || pg_catalog.now()::text, 'UTF8'),
                                         s.secret, 'sha256'), 'hex')
      from private.maintenance_secret s
$$;
comment on function private.maintenance_token() is
    'The key maintenance flag''s value for this backend and transaction; unknown to every runtime role.';

create or replace function private.key_maintenance() returns boolean
language sql stable as $$
    -- Evaluated by the key_maintenance policies (as `(select private.key_maintenance())`, once per query).
    -- No SET clause; the names it uses are schema-qualified.
    select coalesce(pg_catalog.current_setting('strongroom.key_maintenance', true), '') = private.maintenance_token();
$$;
comment on function private.key_maintenance() is
    'True while a key maintenance function runs: the key_maintenance policies then let the owner see all rows. '
    'It has no SET clause: the policies call it in every maintenance query.';

create or replace function private.set_key_maintenance(p_on boolean) returns void
language sql volatile set search_path = '' as $$
    select pg_catalog.set_config('strongroom.key_maintenance',
                                 case when p_on then private.maintenance_token() else 'off' end, true);
$$;
comment on function private.set_key_maintenance(boolean) is 'Turns the key maintenance flag on or off for this transaction.';

-- ---------------------------------------------------------------------------------------------------
-- The encrypted columns, declared once
-- ---------------------------------------------------------------------------------------------------

-- Every encrypted column, once (the Supabase Vault / pgsodium idea): its table, the key column that
-- names its data key, and its place binding (table.column/owner/row id; the owner column is null where the
-- place has no owner, as orders, whose owner may become null). The key maintenance policies below,
-- private.key_usage, private.rows_on_old_keys and private.reencrypt_rows are generated from this list
-- (format() and dynamic SQL), and the tests that prove no plaintext reaches a table, a log or a dump read
-- it too. A new encrypted column is one row here, written with private.encrypt(value, key, private.place(
-- place_table, place_column, owner, id)) by its api function.
drop view if exists private.encrypted_columns;
create view private.encrypted_columns (table_name, column_name, key_column, owner_column, place_table,
                                       place_column, blind_index_column) as
values ('entries', 'content_enc',     'content_key_id',     'user_id', 'entries', 'content',     null),
       ('orders',  'description_enc', 'description_key_id', null,      'orders',  'description', null),
       ('vault',   'site_enc',        'key_id',             'user_id', 'vault',   'site',        'site_index'),
       ('vault',   'login_enc',       'key_id',             'user_id', 'vault',   'login',       null),
       ('vault',   'secret_enc',      'key_id',             'user_id', 'vault',   'secret',      null),
       ('vault',   'notes_enc',       'key_id',             'user_id', 'vault',   'notes',       null);
comment on view private.encrypted_columns is
    'Every encrypted column once: table, ciphertext column, key column, place binding (private.place of '
    'place_table, place_column, owner_column or null, id), and the blind index recomputed from it, if any. '
    'Key maintenance is generated from it.';

-- The key_maintenance policies, one per table of this list, and the caller's own rows are in
-- sql/91_policies.sql, beside the grants.

create or replace function private.encrypted_tables()
returns table (table_name text, key_column text)
language sql stable set search_path = '' as $$
    select c.table_name, c.key_column from private.encrypted_columns c
     group by c.table_name, c.key_column order by c.table_name;
$$;
comment on function private.encrypted_tables() is 'Each table with encrypted columns and its key column.';

create or replace function private.key_usage() returns table (key_id integer, table_name text, rows_using bigint)
language plpgsql volatile set search_path = '' as $$
begin
    perform private.set_key_maintenance(true);
    return query execute (
        select pg_catalog.string_agg(pg_catalog.format(
                   'select %1$I, %2$L::text, pg_catalog.count(*) from public.%2$I'
                   ' where %1$I is not null group by %1$I', t.key_column, t.table_name), ' union all ')
          from private.encrypted_tables() t);
    perform private.set_key_maintenance(false);
end $$;
comment on function private.key_usage() is
    'Rows per key and table, across all users (key maintenance); the tables from private.encrypted_columns.';

create or replace function private.rows_on_old_keys(p_active integer) returns bigint
language plpgsql volatile set search_path = '' as $$
declare
    v_n bigint;
begin
    perform private.set_key_maintenance(true);
    -- Two ranges rather than <> so that the key_id indexes are used.
    execute (select 'select ' || pg_catalog.string_agg(pg_catalog.format(
                 '(select pg_catalog.count(*) from public.%1$I where %2$I < $1 or %2$I > $1)',
                 t.table_name, t.key_column), ' + ')
               from private.encrypted_tables() t)
       into v_n using p_active;
    perform private.set_key_maintenance(false);
    return v_n;
end $$;
comment on function private.rows_on_old_keys(integer) is
    'Rows whose ciphertext is on a key other than p_active: re-encryption progress, not a counter.';


-- ---------------------------------------------------------------------------------------------------
-- First key, and notes written before content was encrypted
-- ---------------------------------------------------------------------------------------------------

create or replace function private.ensure_active_key() returns integer
language plpgsql volatile set search_path = '' as $$
declare
    v_id integer;
    v_legacy bigint;
begin
    perform pg_catalog.pg_advisory_xact_lock(21330, 1);
    select id into v_id from public.aes_keys where state = 'active';
    if v_id is null then
        v_id := private.create_key(private.master_key());
    end if;
    perform private.rewrap_iterated_keys();

    -- Notes from before content was encrypted (migration 20261126_22): encrypt them, then prove the
    -- "content is never plaintext" constraint over the whole table.
    perform private.set_key_maintenance(true);
    update public.entries e
       set content_enc = private.encrypt(e.content, v_id, private.place('entries', 'content', e.user_id, e.id)),
           content_key_id = v_id,
           content = null
     where e.content is not null;
    get diagnostics v_legacy = row_count;
    perform private.set_key_maintenance(false);
    if v_legacy > 0 then
        perform private.log_key_event(v_id, 'encrypted_legacy_entries', pg_catalog.jsonb_build_object('rows', v_legacy));
    end if;
    if exists (select from pg_catalog.pg_constraint
                where conname = 'entries_content_never_plaintext' and not convalidated) then
        alter table public.entries validate constraint entries_content_never_plaintext;
    end if;
    return v_id;
end $$;
comment on function private.ensure_active_key() is
    'Run by `strongroom db migrate` after the sql/ files, with the master key set: creates the first data '
    'key when none is active, re-wraps keys wrapped with iterated S2K, and encrypts notes left in clear by '
    'older versions. Idempotent.';


-- ---------------------------------------------------------------------------------------------------
-- Re-encryption
-- ---------------------------------------------------------------------------------------------------

create or replace function private.reencrypt_rows(p_active integer, p_limit integer, p_skip_locked boolean)
returns integer
language plpgsql volatile set search_path = '' as $$
declare
    v_lock text := case when p_skip_locked then 'for update skip locked' else 'for update' end;
    v_left integer := p_limit;
    v_n integer;
    v_table record;
begin
    -- One statement per encrypted table (private.encrypted_columns): lock up to what is left of the batch
    -- among the rows on an old key (in id order; skipping rows a writer holds, except in the final sweep,
    -- which waits for them), then re-encrypt each of its columns, and recompute its blind index, with the
    -- active key. Places do not change. A row a writer changed meanwhile is re-read by the UPDATE (READ
    -- COMMITTED), so no write is lost.
    for v_table in
        select c.table_name, c.key_column,
               pg_catalog.string_agg(pg_catalog.format(
                   '%1$I = private.encrypt(%2$s, $1, %3$s)', c.column_name, d.plain, d.place)
                   || case when c.blind_index_column is not null
                           then pg_catalog.format(', %1$I = private.blind_index(%2$s, $1, x.%3$I)',
                                                  c.blind_index_column, d.plain, c.owner_column) else '' end,
                   ', ' order by c.column_name) as assignments
          from private.encrypted_columns c,
               lateral (select pg_catalog.format('private.place(%L, %L, %s, x.id)', c.place_table, c.place_column,
                                                 coalesce('x.' || pg_catalog.quote_ident(c.owner_column), 'null'))
                               as place) p,
               lateral (select p.place,
                               pg_catalog.format('private.decrypt(x.%I, x.%I, %s)', c.column_name, c.key_column,
                                                 p.place) as plain) d
         group by c.table_name, c.key_column
         order by c.table_name
    loop
        exit when v_left <= 0;
        execute pg_catalog.format($q$
            with batch as (
                select id from public.%1$I
                 where %2$I < $1 or %2$I > $1
                 order by id limit $2 %3$s)
            update public.%1$I x
               set %4$s, %2$I = $1
              from batch where x.id = batch.id$q$, v_table.table_name, v_table.key_column, v_lock, v_table.assignments)
            using p_active, v_left;
        get diagnostics v_n = row_count;
        v_left := v_left - v_n;
    end loop;
    return p_limit - v_left;
end $$;
comment on function private.reencrypt_rows(integer, integer, boolean) is
    'Moves up to p_limit rows from old keys to p_active; with p_skip_locked false it waits for writers (the sweep).';
