-- The admin's key functions: status, rotate, re-encrypt (one batch), retire, re-wrap under a new master key.
--
-- All admin-only: EXECUTE is granted to strongroom_admin only (sql/90_grants.sql) and
-- private.require_key_admin() checks the caller's claims when the call comes through the API. Each writes
-- key_logs (action, key, who, details; never key material). The primitives they use, and the rules of
-- rotation against concurrent writers, are in sql/30_crypto.sql.

drop function if exists api.key_status();
create function api.key_status()
returns table (id integer, key_label text, state text, created_at timestamp, rotated_at timestamp,
               retired_at timestamp, entries_rows bigint, orders_rows bigint, vault_rows bigint,
               total_rows bigint)
language plpgsql volatile
security definer  -- aes_keys and the row counts across all users are not readable by the admin role
set search_path = ''
as $$
begin
    perform private.require_key_admin();
    return query
        with usage as (select * from private.key_usage())
        select k.id, k.key_label::text, k.state, k.created_at, k.rotated_at, k.retired_at,
               coalesce(sum(u.rows_using) filter (where u.table_name = 'entries'), 0)::bigint,
               coalesce(sum(u.rows_using) filter (where u.table_name = 'orders'), 0)::bigint,
               coalesce(sum(u.rows_using) filter (where u.table_name = 'vault'), 0)::bigint,
               coalesce(sum(u.rows_using), 0)::bigint
          from public.aes_keys k
          left join usage u on u.key_id = k.id
         group by k.id
         order by k.id;
end $$;
comment on function api.key_status() is
    'Per key: state, created, rotated, retired, and the rows using it per table. Admin only; needs no master key.';

drop function if exists api.master_key_matches(text);
create function api.master_key_matches(p_master text)
returns boolean
language sql stable
security definer  -- aes_keys is readable by no runtime role
set search_path = ''
as $$
    -- Answers only whether p_master is the key the active data key is wrapped with (its check value),
    -- never anything about either key.
    select k.master_check = private.master_check(k.id, p_master)
      from public.aes_keys k where k.state = 'active';
$$;
comment on function api.master_key_matches(text) is
    'Whether p_master matches the active data key''s check value; null when there is no active key. The API '
    'asks at start (`strongroom serve` refuses a wrong key) and on every /ready. Needs no unwrap.';

drop function if exists api.rotate_key();
create function api.rotate_key()
returns table (old_key_id integer, new_key_id integer)
language plpgsql volatile
security definer  -- writes aes_keys and key_logs, which no runtime role may touch
set search_path = ''
as $$
declare
    v_master text;
    v_old integer;
    v_new integer;
begin
    perform private.require_key_admin();
    v_master := private.master_key();
    -- Wait for writers that picked the current key to commit; later writers will see the new one.
    perform pg_catalog.pg_advisory_xact_lock(21330, 1);
    select k.id into v_old from public.aes_keys k where k.state = 'active';
    if v_old is not null then
        -- Prove the master key before changing anything.
        perform private.unwrap_key(v_old, v_master);
        update public.aes_keys k
           set state = 'decrypt_only', is_active = false, rotated_at = pg_catalog.now()
         where k.id = v_old;
    end if;
    v_new := private.create_key(v_master);
    if v_old is not null then
        perform private.log_key_event(v_old, 'rotated',
            pg_catalog.jsonb_build_object('new_key_id', v_new, 'rows_left', private.rows_on_old_keys(v_new)));
    end if;
    return query select v_old, v_new;
end $$;
comment on function api.rotate_key() is
    'Makes a new active data key; the old one becomes decrypt-only (rotated_at). Old ciphertext still '
    'decrypts. Admin only; needs the master key (SRK02 if wrong, and nothing changes).';


drop function if exists api.reencrypt_batch(integer, boolean);
drop function if exists api.reencrypt_batch(integer, boolean, boolean);
create function api.reencrypt_batch(p_batch_size integer default 500, p_sweep boolean default false,
                                    p_count boolean default true)
returns table (key_id integer, moved integer, rows_left bigint)
language plpgsql volatile
security definer  -- reads and rewrites every user's ciphertext and the wrapped keys
set search_path = ''
as $$
declare
    v_active integer;
    v_moved integer;
    v_left bigint;
begin
    perform private.require_key_admin();
    if p_batch_size is null or p_batch_size < 1 or p_batch_size > 100000 then
        raise exception 'batch size must be between 1 and 100000, not %', p_batch_size
            using errcode = 'SRP51';
    end if;
    v_active := private.active_key_id();
    perform private.data_key(v_active);   -- proves the master key (SRK02) before any row is touched

    perform private.set_key_maintenance(true);
    v_moved := private.reencrypt_rows(v_active, p_batch_size, not p_sweep);
    perform private.set_key_maintenance(false);

    -- Rows left are counted, not derived from a counter, so concurrent writers cannot make them lie. The
    -- count visits every row still on an old key, so a long run asks for it only now and then (p_count);
    -- the sweep always counts, since it stops when none is left.
    if p_count or p_sweep then
        v_left := private.rows_on_old_keys(v_active);
    end if;
    if v_moved > 0 then
        perform private.log_key_event(v_active, case when p_sweep then 'reencrypt_sweep' else 'reencrypt_batch' end,
            pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('moved', v_moved, 'rows_left', v_left)));
    end if;
    if p_sweep and v_left = 0 then
        perform private.log_key_event(v_active, 'reencrypt_done', '{"rows_left": 0}'::jsonb);
    end if;
    return query select v_active, v_moved, v_left;
exception when external_routine_invocation_exception then
    perform private.raise_unreadable('a row on an old key');
end $$;
comment on function api.reencrypt_batch(integer, boolean, boolean) is
    'One batch of re-encryption in the caller''s transaction: moves up to p_batch_size rows to the active '
    'key, skipping rows writers hold (p_sweep: waiting for them instead). Returns and logs the rows moved '
    'and, when p_count or p_sweep, the rows left on old keys (else null). Admin only; needs the master key.';

-- No procedure loops over the batches any more: a CALL that COMMITs per batch never waits for its
-- client, so neither a killed client nor a dead postmaster stopped it before the end (and the crashed
-- server could not start while it ran). Clients drive one batch per transaction instead
-- (api/reencryption.py), and the backend notices either between two batches.
drop procedure if exists api.reencrypt(integer);
drop procedure if exists api.reencrypt(integer, interval);


-- ---------------------------------------------------------------------------------------------------
-- Retiring a key, re-wrapping under a new master key
-- ---------------------------------------------------------------------------------------------------

drop function if exists api.retire_key(integer);
create function api.retire_key(p_key_id integer)
returns table (id integer, state text, retired_at timestamp)
language plpgsql volatile
security definer  -- destroys key material in aes_keys, which no runtime role may touch
set search_path = ''
as $$
declare
    v_key public.aes_keys;
    v_rows bigint;
begin
    perform private.require_key_admin();
    -- The rotation lock keeps a rotation from racing the checks below.
    perform pg_catalog.pg_advisory_xact_lock(21330, 1);
    select * into v_key from public.aes_keys a where a.id = p_key_id for update;
    if not found then
        raise exception 'data key % does not exist', p_key_id using errcode = 'SRK07';
    end if;
    if v_key.state = 'active' then
        raise exception 'data key % is the active key and cannot be retired', p_key_id
            using errcode = 'SRC51', hint = 'Rotate first, then re-encrypt, then retire.';
    end if;
    if v_key.state = 'retired' then
        raise exception 'data key % is already retired', p_key_id using errcode = 'SRC51';
    end if;
    -- Rows are locked by the writers that use them; counting under the key row's lock and the rotation
    -- lock sees every committed row, and no new row can be written on a key that is not active.
    select coalesce(pg_catalog.sum(u.rows_using), 0) into v_rows
      from private.key_usage() u where u.key_id = p_key_id;
    if v_rows > 0 then
        raise exception 'data key % is still used by % rows', p_key_id, v_rows
            using errcode = 'SRC51', hint = 'Run `strongroom keys reencrypt` first.';
    end if;
    update public.aes_keys a
       set state = 'retired', is_active = false, key_value = '', master_check = null,
           retired_at = pg_catalog.now()
     where a.id = p_key_id;
    perform private.log_key_event(p_key_id, 'retired', '{}'::jsonb);
    return query select a.id, a.state, a.retired_at from public.aes_keys a where a.id = p_key_id;
end $$;
comment on function api.retire_key(integer) is
    'Destroys a decrypt-only key''s material once no row uses it (SRC51 otherwise, and for the active key). '
    'Admin only; needs no master key.';

drop function if exists api.rewrap_master();
create function api.rewrap_master()
returns table (rewrapped integer)
language plpgsql volatile
security definer  -- rewrites aes_keys, which no runtime role may touch
set search_path = ''
as $$
declare
    v_old text := private.master_key();
    v_new text := pg_catalog.current_setting('strongroom.new_master_key', true);
    v_n integer := 0;
    v_key record;
begin
    perform private.require_key_admin();
    if v_new is null or pg_catalog.length(v_new) < 32 or v_new = v_old then
        raise exception 'the new master key must be at least 32 characters and differ from the current one'
            using errcode = 'SRK06',
                  hint = 'Set strongroom.new_master_key (transaction-local, bound parameter) to the new key.';
    end if;
    perform pg_catalog.pg_advisory_xact_lock(21330, 1);
    -- Prove the old master key on every live key before rewriting any (SRK02, nothing changes).
    for v_key in select a.id from public.aes_keys a where a.state <> 'retired' order by a.id for update loop
        perform private.unwrap_key(v_key.id, v_old);
    end loop;
    for v_key in select a.id from public.aes_keys a where a.state <> 'retired' order by a.id loop
        update public.aes_keys a
           set key_value = private.wrap_key(private.unwrap_key(v_key.id, v_old), v_new),
               master_check = private.master_check(v_key.id, v_new)
         where a.id = v_key.id;
        v_n := v_n + 1;
    end loop;
    perform private.log_key_event(null, 'master_rewrapped', pg_catalog.jsonb_build_object('keys', v_n));
    return query select v_n;
end $$;
comment on function api.rewrap_master() is
    'Re-wraps every live data key under the new master key (strongroom.new_master_key) in one transaction, '
    'after proving the current one (strongroom.master_key). Data and ciphertexts are untouched. Admin only.';
