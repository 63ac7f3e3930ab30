-- Secure notes (the seed's entries): the title in clear, the content always encrypted.
--
-- Every function here is security definer (the caller roles cannot read aes_keys or the tables
-- directly), reads the caller from the request context, filters by it explicitly, and is still guarded
-- by the FORCEd row-level security on entries. Another user's note is "not found", never "forbidden":
-- the refusal is logged (private.log_access_refused) and the function returns no row, without raising,
-- so the log row commits with the request. The seed's content column is always NULL (migration
-- 20261126_22).

drop function if exists api.create_entry(text, text);
create function api.create_entry(p_title text, p_content text)
returns table (id integer, title text, content text, created_at timestamp, updated_at timestamp)
language plpgsql volatile
security definer  -- encrypting needs the wrapped keys in aes_keys
set search_path = ''
as $$
declare
    v_user integer := private.require_caller();
    v_id integer := pg_catalog.nextval('public.entries_id_seq');
    v_key integer;
begin
    perform private.check_field_text('title', p_title, 255, true);
    perform private.check_field_text('content', p_content, 4194304, false);
    v_key := private.active_key_id();
    insert into public.entries (id, user_id, title, content_enc, content_key_id)
    values (v_id, v_user, p_title,
            private.encrypt(coalesce(p_content, ''), v_key,
                            private.place('entries', 'content', v_user, v_id)),
            v_key);
    return query
        select e.id, e.title::text, coalesce(p_content, ''), e.created_at, e.updated_at
          from public.entries e where e.id = v_id;
end $$;
comment on function api.create_entry(text, text) is
    'Creates a note for the caller: title (1-255 characters) in clear, content (up to 4 MiB) encrypted.';

drop function if exists api.list_entries(integer, integer);
create function api.list_entries(p_before_id integer default null, p_limit integer default 50)
returns table (id integer, title text, created_at timestamp, updated_at timestamp)
language plpgsql stable
security definer  -- the caller roles have no direct access to entries
set search_path = ''
as $$
declare
    v_user integer := private.require_caller();
    -- A variable, not coalesce() in the query: row-level security lets only leakproof conditions into
    -- the index scan ahead of its policy, and coalesce() does not count as one.
    v_before integer := coalesce(p_before_id, 2147483647);
begin
    perform private.check_page_limit(p_limit);
    -- Keyset pagination: newest first (ids grow with creation); pass the last id seen as p_before_id.
    -- The page's ids first, from the (user_id, id) index alone: a flat cost per page under any plan (a
    -- generic plan otherwise walks the primary key through other owners' rows), then those rows.
    -- Joined by position, not `e.id = any(...) order by e.id`: for that a generic plan may walk the
    -- primary key from the newest row, testing each id against the page.
    return query
        select e.id, e.title::text, e.created_at, e.updated_at
          from pg_catalog.unnest(array(select x.id from public.entries x
                                        where x.user_id = v_user and x.id < v_before
                                        order by x.id desc limit p_limit)) with ordinality as page (id, n)
          join public.entries e on e.id = page.id
         order by page.n;
end $$;
comment on function api.list_entries(integer, integer) is
    'The caller''s note titles, newest first; keyset pagination with p_before_id = the last id seen. Decrypts nothing.';

drop function if exists api.get_entry(integer);
create function api.get_entry(p_id integer)
returns table (id integer, title text, content text, created_at timestamp, updated_at timestamp)
language plpgsql volatile
security definer  -- decrypting needs the wrapped keys in aes_keys
set search_path = ''
as $$
-- volatile: a refusal writes a log row.
declare
    v_user integer := private.require_caller();
    v_entry public.entries;
begin
    select * into v_entry from public.entries x where x.id = p_id and x.user_id = v_user;
    if not found then
        perform private.log_access_refused('entries', p_id);
        return;
    end if;
    return query select v_entry.id, v_entry.title::text,
        private.decrypt(v_entry.content_enc, v_entry.content_key_id, private.place('entries', 'content', v_entry.user_id, v_entry.id)),
        v_entry.created_at, v_entry.updated_at;
exception when external_routine_invocation_exception then
    perform private.raise_unreadable(pg_catalog.format('note %s', p_id));
end $$;
comment on function api.get_entry(integer) is
    'One of the caller''s notes, decrypted. No row if it is not theirs or does not exist (the refusal is logged).';

drop function if exists api.update_entry(integer, text, text);
create function api.update_entry(p_id integer, p_title text default null, p_content text default null)
returns table (id integer, title text, content text, created_at timestamp, updated_at timestamp)
language plpgsql volatile
security definer  -- encrypting needs the wrapped keys in aes_keys
set search_path = ''
as $$
declare
    v_user integer := private.require_caller();
    v_key integer;
begin
    perform private.check_field_text('title', p_title, 255, false);
    perform private.check_field_text('content', p_content, 4194304, false);
    if p_title is not null and pg_catalog.btrim(p_title) = '' then
        raise exception 'title is required' using errcode = 'SRP50';
    end if;
    if p_content is not null then
        v_key := private.active_key_id();
    end if;
    -- A null argument keeps the stored value; new content is encrypted with the active key.
    update public.entries e
       set title = coalesce(p_title, e.title),
           content_enc = case when p_content is null then e.content_enc
                              else private.encrypt(p_content, v_key,
                                                   private.place('entries', 'content', e.user_id, e.id)) end,
           content_key_id = case when p_content is null then e.content_key_id else v_key end,
           updated_at = pg_catalog.now()
     where e.id = p_id and e.user_id = v_user;
    if not found then
        perform private.log_access_refused('entries', p_id);
        return;
    end if;
    return query select * from api.get_entry(p_id);
end $$;
comment on function api.update_entry(integer, text, text) is
    'Changes a note''s title and/or content (null keeps the stored value). No row if not the caller''s '
    '(the refusal is logged).';

drop function if exists api.delete_entry(integer);
create function api.delete_entry(p_id integer)
returns table (id integer)
language sql volatile
security definer  -- the caller roles have no direct access to entries
set search_path = ''
as $$
    select d.id from private.delete_own_row('entries', p_id) as d (id) where d.id is not null
$$;
comment on function api.delete_entry(integer) is
    'Deletes one of the caller''s notes and returns its id. No row if not theirs or missing (the refusal is logged).';
