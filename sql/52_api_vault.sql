-- The password vault: per user, a site, a login, a secret and notes, all encrypted with the row's data
-- key and bound to the row. Look-up by site is exact and case-insensitive through site_index, a blind
-- index (private.blind_index: HMAC of the owner and the normalised site under a subkey of the row's
-- key). Rows on different keys (during a rotation) have indexes under different keys, so a look-up
-- computes the index under each key the caller's rows use.
--
-- Only the owner ever sees a row: its policy has no admin clause (an admin manages keys, not
-- other people's passwords), and row-level security is FORCEd on the table (sql/91_policies.sql).

insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRN52', 'vault_item_not_found', 404, 'Nothing is saved for this site by the caller.'),
    ('SRP52', 'bad_password_request', 422,
     'A generated password is 8 to 128 characters from at least one class, with room for one of each.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;


-- Helpers take and return scalars, never a vault row, so that no function depends on the table's type.
create or replace function private.vault_find(p_user integer, p_site text) returns setof integer
language sql volatile set search_path = '' as $$
    with idx as (
        select k.key_id, private.blind_index(p_site, k.key_id, p_user) as site_index
          from (select distinct v.key_id from public.vault v where v.user_id = p_user) k
    )
    select v.id from public.vault v join idx on v.key_id = idx.key_id and v.site_index = idx.site_index
     where v.user_id = p_user
     order by v.id;
$$;
comment on function private.vault_find(integer, text) is
    'Ids of the owner''s vault rows for a site, matched on the blind index under each key their rows use.';

create or replace function private.vault_out(p_ids integer[], p_with_secrets boolean)
returns table (id integer, site text, login text, secret text, notes text, created_at timestamp,
               updated_at timestamp)
language sql volatile set search_path = '' as $$
    select v.id,
           private.decrypt(v.site_enc, v.key_id, private.place('vault', 'site', v.user_id, v.id)),
           private.decrypt(v.login_enc, v.key_id, private.place('vault', 'login', v.user_id, v.id)),
           case when p_with_secrets
                then private.decrypt(v.secret_enc, v.key_id, private.place('vault', 'secret', v.user_id, v.id)) end,
           case when p_with_secrets
                then private.decrypt(v.notes_enc, v.key_id, private.place('vault', 'notes', v.user_id, v.id)) end,
           v.created_at, v.updated_at
      from public.vault v
     where v.id = any (p_ids);
$$;
comment on function private.vault_out(integer[], boolean) is
    'Vault rows decrypted (the secret and notes only when asked). Ownership is checked by the caller.';

drop function if exists api.save_vault_item(text, text, text, text);
create function api.save_vault_item(p_site text, p_login text, p_secret text, p_notes text default null)
returns table (id integer, site text, login text, created_at timestamp, updated_at timestamp)
language plpgsql volatile
security definer  -- encrypting needs the wrapped keys in aes_keys
set search_path = ''
as $$
declare
    v_user integer := private.require_caller();
    v_key integer;
    v_id integer;
begin
    perform private.check_field_text('site', p_site, 255, true);
    perform private.check_field_text('login', p_login, 255, false);
    perform private.check_field_text('secret', p_secret, 1024, true);
    perform private.check_field_text('notes', p_notes, 10000, false);
    v_key := private.active_key_id();
    -- The same site and login again replaces the item (a new password for a known login).
    select o.id into v_id
      from private.vault_out(array(select private.vault_find(v_user, p_site)), false) o
     where o.login = coalesce(p_login, '')
     order by o.id limit 1;
    if v_id is null then
        v_id := pg_catalog.nextval('public.vault_id_seq');
        insert into public.vault (id, user_id, key_id, site_index, site_enc, login_enc, secret_enc, notes_enc)
        values (v_id, v_user, v_key, private.blind_index(p_site, v_key, v_user),
                private.encrypt(pg_catalog.btrim(p_site), v_key, private.place('vault', 'site', v_user, v_id)),
                private.encrypt(coalesce(p_login, ''), v_key, private.place('vault', 'login', v_user, v_id)),
                private.encrypt(p_secret, v_key, private.place('vault', 'secret', v_user, v_id)),
                private.encrypt(p_notes, v_key, private.place('vault', 'notes', v_user, v_id)));
    else
        update public.vault v
           set key_id = v_key,
               site_index = private.blind_index(p_site, v_key, v_user),
               site_enc = private.encrypt(pg_catalog.btrim(p_site), v_key, private.place('vault', 'site', v_user, v_id)),
               login_enc = private.encrypt(coalesce(p_login, ''), v_key,
                                           private.place('vault', 'login', v_user, v_id)),
               secret_enc = private.encrypt(p_secret, v_key, private.place('vault', 'secret', v_user, v_id)),
               notes_enc = private.encrypt(p_notes, v_key, private.place('vault', 'notes', v_user, v_id)),
               updated_at = pg_catalog.now()
         where v.id = v_id and v.user_id = v_user;
    end if;
    return query select v.id, pg_catalog.btrim(p_site), coalesce(p_login, ''), v.created_at, v.updated_at
                   from public.vault v where v.id = v_id;
exception when external_routine_invocation_exception then
    perform private.raise_unreadable('a saved item for this site');
end $$;
comment on function api.save_vault_item(text, text, text, text) is
    'Saves a login for a site (site and login again: replaces the secret and notes). Everything is encrypted.';

drop function if exists api.list_vault_sites();
drop function if exists api.list_vault_sites(integer, integer);
create function api.list_vault_sites(p_before_id integer default null, p_limit integer default 50)
returns table (id integer, site text, login text, created_at timestamp, updated_at timestamp)
language plpgsql volatile
security definer  -- decrypting needs the wrapped keys in aes_keys
set search_path = ''
as $$
-- Paging stays flat, as for orders and notes (api.list_entries): the page's ids come from the
-- (user_id, id) index alone, then only those rows are read and decrypted. Sites are stored encrypted, so
-- no index can order by them: the list is by id, newest first (an item keeps its id when its password is
-- replaced).
declare
    v_user integer := private.require_caller();
    -- A variable, not coalesce() in the query: row-level security lets only leakproof conditions into
    -- the index scan ahead of its policy, and coalesce() does not count as one.
    v_before integer := coalesce(p_before_id, 2147483647);
    v_ids integer[];
begin
    perform private.check_page_limit(p_limit);
    v_ids := array(select x.id from public.vault x where x.user_id = v_user and x.id < v_before
                    order by x.id desc limit p_limit);
    return query
        select o.id, o.site, o.login, o.created_at, o.updated_at
          from pg_catalog.unnest(v_ids) with ordinality as page (id, n)
          join private.vault_out(v_ids, false) o on o.id = page.id
         order by page.n;
exception when external_routine_invocation_exception then
    perform private.raise_unreadable('a vault item');
end $$;
comment on function api.list_vault_sites(integer, integer) is
    'The caller''s vault items (site and login, no secrets), newest first; keyset pagination with p_before_id = '
    'the last id seen. Reads and decrypts only the page''s rows.';

drop function if exists api.lookup_vault(text);
create function api.lookup_vault(p_site text)
returns table (id integer, site text, login text, secret text, notes text, created_at timestamp,
               updated_at timestamp)
language plpgsql volatile
security definer  -- decrypting needs the wrapped keys in aes_keys
set search_path = ''
as $$
declare
    v_user integer := private.require_caller();
begin
    perform private.check_field_text('site', p_site, 255, true);
    return query
        select o.* from private.vault_out(array(select private.vault_find(v_user, p_site)), true) o
         order by o.id;
    if not found then
        raise exception 'nothing saved for this site' using errcode = 'SRN52';
    end if;
exception when external_routine_invocation_exception then
    perform private.raise_unreadable('a vault item for this site');
end $$;
comment on function api.lookup_vault(text) is
    'The caller''s items for a site (exact, case-insensitive), decrypted. SRN52 when there is none.';

drop function if exists api.delete_vault_item(integer);
create function api.delete_vault_item(p_id integer)
returns table (id integer)
language sql volatile
security definer  -- the caller roles have no direct access to vault
set search_path = ''
as $$
    select d.id from private.delete_own_row('vault', p_id) as d (id) where d.id is not null
$$;
comment on function api.delete_vault_item(integer) is
    'Deletes one of the caller''s vault items and returns its id. No row if not theirs or missing (the refusal '
    'is logged).';


-- The password generator.

drop function if exists api.generate_password(integer, boolean, boolean, boolean, boolean, boolean);
create function api.generate_password(p_length integer default 20, p_lower boolean default true,
                                      p_upper boolean default true, p_digits boolean default true,
                                      p_symbols boolean default true, p_exclude_lookalikes boolean default false)
returns text
language plpgsql volatile set search_path = '' as $$
-- Unbiased: each character is a random byte taken only when below the largest multiple of the alphabet
-- size (rejection sampling), so every character of the alphabet is equally likely. "At least one of
-- each chosen class" is also met by rejection: a whole password missing a class is drawn again, so
-- every password meeting the rule is equally likely.
declare
    v_classes text[] := '{}';
    v_alphabet text;
    v_n integer;
    v_limit integer;
    v_out text;
    v_bytes bytea;
    v_byte integer;
    v_class text;
    v_ok boolean;
begin
    if p_lower then v_classes := v_classes || 'abcdefghijklmnopqrstuvwxyz'::text; end if;
    if p_upper then v_classes := v_classes || 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'::text; end if;
    if p_digits then v_classes := v_classes || '0123456789'::text; end if;
    if p_symbols then v_classes := v_classes || '!#$%&()*+,-./:;<=>?@[]^_{|}~'::text; end if;
    if p_exclude_lookalikes then
        -- array_agg over no classes is null, not empty: coalesce, or the check below never fires.
        select coalesce(pg_catalog.array_agg(pg_catalog.translate(c, '0Oo1lI|', '')), '{}') into v_classes
          from pg_catalog.unnest(v_classes) c;
    end if;
    if p_length is null or p_length < 8 or p_length > 128 then
        raise exception 'a password is 8 to 128 characters long, not %', p_length using errcode = 'SRP52';
    end if;
    if coalesce(pg_catalog.cardinality(v_classes), 0) = 0 then
        raise exception 'choose at least one character class' using errcode = 'SRP52';
    end if;
    v_alphabet := pg_catalog.array_to_string(v_classes, '');
    v_n := pg_catalog.length(v_alphabet);
    v_limit := 256 - 256 % v_n;
    loop
        v_out := '';
        while pg_catalog.length(v_out) < p_length loop
            v_bytes := public.gen_random_bytes(least(1024, 2 * (p_length - pg_catalog.length(v_out)) + 8));
            for i in 0 .. pg_catalog.length(v_bytes) - 1 loop
                v_byte := pg_catalog.get_byte(v_bytes, i);
                if v_byte < v_limit then
                    v_out := v_out || pg_catalog.substr(v_alphabet, v_byte % v_n + 1, 1);
                    exit when pg_catalog.length(v_out) = p_length;
                end if;
            end loop;
        end loop;
        v_ok := true;
        foreach v_class in array v_classes loop
            if pg_catalog.length(pg_catalog.translate(v_out, v_class, '')) = p_length then
                v_ok := false;
            end if;
        end loop;
        exit when v_ok;
    end loop;
    return v_out;
end $$;
comment on function api.generate_password(integer, boolean, boolean, boolean, boolean, boolean) is
    'A random password of p_length (8-128) from the chosen classes, at least one of each, optionally '
    'without look-alikes (0 O o 1 l I |). Unbiased rejection sampling over gen_random_bytes.';
