-- The logs as clients see them: add your own event (the GUI logs through this), list events, and the
-- API process's batch of recorded calls.

insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRP90', 'client_event_invalid', 422, 'A client event''s level, component or message is missing or too long.'),
    ('SRL90', 'client_event_rate_limited', 429, 'Too many client events from this user in the last minute.'),
    ('SRP92', 'control_characters', 422, 'A client event may not hold control characters other than tab.'),
    ('SRP91', 'api_call_batch_invalid', 422, 'A batch of API calls is not a JSON array of call objects, or is too large.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;

-- Client events ---------------------------------------------------------------------------------------

drop function if exists api.log_client_event(text, text, text, jsonb);
create function api.log_client_event(p_level text, p_component text, p_message text, p_details jsonb default null)
returns void
language plpgsql
security definer  -- callers may not insert into logs themselves
set search_path = ''
as $$
declare
    -- Limits: a client can describe what went wrong, not fill the disk.
    -- The component is stored as 'client:' || component in logs.component, varchar(50): 7 + 43.
    c_max_component constant integer := 43;
    c_max_message constant integer := 2000;
    c_max_details constant integer := 4000;
    c_per_minute constant integer := 60;
    v_user integer := private.caller_id();
    v_level text := pg_catalog.upper(p_level);
    v_window_start timestamptz := pg_catalog.now() - interval '1 minute';
    v_recent integer := 0;
    v_seen integer;
    v_before integer := 2147483647;
    v_id integer;
    v_at timestamptz;
    v_action text;
    v_actor integer;
begin
    if v_user is null then
        raise exception 'no caller in this transaction' using errcode = 'SRA01';
    end if;
    if v_level is null or v_level not in ('DEBUG', 'INFO', 'WARNING', 'ERROR') then
        raise exception 'level must be DEBUG, INFO, WARNING or ERROR' using errcode = 'SRP90';
    end if;
    if coalesce(pg_catalog.length(p_component), 0) not between 1 and c_max_component then
        raise exception 'component must be 1 to % characters', c_max_component using errcode = 'SRP90',
            hint = 'It is stored prefixed with "client:", in a column of 50 characters.';
    end if;
    if coalesce(pg_catalog.length(p_message), 0) not between 1 and c_max_message then
        raise exception 'message must be 1 to % characters', c_max_message using errcode = 'SRP90';
    end if;
    -- A client's words are refused outright if they hold a control character but tab (log injection: a
    -- newline forges a line, ESC sequences drive a DBA's terminal); in details they are escaped
    -- (audit.printable_json), as every writer of a log table does.
    if p_component ~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]' or p_message ~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]' then
        raise exception 'an event may not hold control characters (tab is allowed)' using errcode = 'SRP92',
            hint = 'Send one line of text: no line breaks, no terminal escape codes.';
    end if;
    if pg_catalog.octet_length(p_details::text) > c_max_details then
        raise exception 'details must be at most % bytes of JSON', c_max_details using errcode = 'SRP90';
    end if;
    -- One counter per user: concurrent requests of the same user queue here, so the limit holds exactly.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('strongroom.client_event'), v_user);
    -- The user's events newest first (logs_user_id: user_id, id), back to the first one older than the
    -- window: what that reads is the user's last minute, however long their history. Ids follow the order
    -- events were written, and a user's client events are written one after another under the lock above,
    -- so none of the window's is behind an older one. A client event's user is its actor (the insert below).
    -- In pages of 100 (a query without a limit is planned to read all the user's events and sort them);
    -- `= any` and `order by l.user_id, l.id` as in api.list_logs, so that no plan walks the primary key.
    <<pages>>
    loop
        v_seen := 0;
        for v_id, v_at, v_action, v_actor in
            select l.id, l.logged_at, l.action, l.actor_id from public.logs as l
             where l.user_id = any (array[v_user]) and l.id < v_before
             order by l.user_id desc, l.id desc limit 100
        loop
            exit pages when v_at <= v_window_start;
            v_seen := v_seen + 1;
            v_before := v_id;
            if v_action = 'client_event' and v_actor = v_user then
                v_recent := v_recent + 1;
                if v_recent >= c_per_minute then
                    raise exception 'too many client events: at most % a minute', c_per_minute
                        using errcode = 'SRL90', hint = 'Send fewer events, or batch them into one message.';
                end if;
            end if;
        end loop;
        exit when v_seen < 100;
    end loop;
    insert into public.logs (level, component, action, message, details, user_id)
    values (v_level, 'client:' || p_component, 'client_event', p_message, audit.printable_json(p_details), v_user);
end
$$;
comment on function api.log_client_event(text, text, text, jsonb) is
    'Adds the calling user''s own event to logs (component 1 to 43 characters, stored prefixed "client:"). '
    'Message at most 2000 characters, details at most 4000 bytes, at most 60 events a minute per user (SRL90).';

-- Listing ---------------------------------------------------------------------------------------------

drop function if exists api.list_logs(bigint, integer, text, text, text, timestamptz, timestamptz);
drop function if exists api.list_logs(bigint, integer, text, text, text, timestamptz, timestamptz, text, boolean);
create function api.list_logs(
    p_before_id bigint      default null,
    p_limit     integer     default 50,
    p_level     text        default null,
    p_component text        default null,
    p_action    text        default null,
    p_since     timestamptz default null,
    p_until     timestamptz default null,
    p_username  text        default null,
    p_api_calls boolean     default false
)
returns table (id bigint, at timestamptz, logged_at timestamptz, level text, component text, action text,
               message text, details jsonb, table_name text, row_id bigint, user_id integer, username text,
               actor_id integer, actor_name text, request_id text)
language plpgsql
stable
security definer  -- runtime roles do not read logs directly; this decides which rows they see
set search_path = ''
as $$
-- Paging stays flat (as api.list_orders): a page costs the same first or deep, for a user with ten events
-- or a million, whatever other users' events the log holds, under custom and generic plans alike. So the
-- page's rows are picked first, by fixed statements whose conditions an index answers (no `v_all or ...`,
-- no `p_before_id is null or ...`, which a generic plan can only filter by):
--   everyone's (admin, auditor)   the primary key, newest first;
--   one user's                    their events as subject (logs_user_id: user_id, id), merged with their
--                                 events as actor about someone else, or about no one (logs_actor_id:
--                                 actor_id, whether an API call, id), the API calls only when asked for.
-- The two sets of one user are disjoint (the second holds only rows whose actor is not their user), so
-- each gives at most a page, newest first, and the page is the newest of those. The other filters (level,
-- component, action, time) are checked on the way: a filter few events pass reads further for its page.
-- Then only the page's rows are read again, with the names.
declare
    v_user integer := private.caller_id();
    v_all boolean := private.caller_role() in ('admin', 'auditor');
    v_named integer;
    v_who integer;
    v_whos integer[];
    v_before bigint := coalesce(p_before_id, 9223372036854775807);
    v_limit integer := greatest(1, least(coalesce(p_limit, 50), 500));
    v_api boolean;
    v_level text := pg_catalog.upper(p_level);
    -- Bounds, not `p_since is null or ...`: a time filter then also leaves out the months it cannot touch.
    v_since timestamptz := coalesce(p_since, '-infinity');
    v_until timestamptz := coalesce(p_until, 'infinity');
    v_ids integer[];
    v_ats timestamptz[];
begin
    if v_user is null then
        raise exception 'no caller in this transaction' using errcode = 'SRA01';
    end if;
    if p_username is not null then
        -- Row-level security on users: a user can name only themselves, an admin anyone.
        select u.id into v_named from public.users as u where pg_catalog.lower(u.username) = pg_catalog.lower(p_username);
        if v_named is null then
            return;
        end if;
    end if;
    v_who := case when v_all then v_named else v_user end;
    -- API-call records are one per request, so they are most of the log: left out unless asked for (or
    -- filtered on by action or component).
    v_api := coalesce(p_api_calls, false) or p_action is not distinct from 'api_call'
             or p_component is not distinct from 'api';
    if v_who is null then
        select pg_catalog.array_agg(p.id order by p.id desc), pg_catalog.array_agg(p.logged_at order by p.id desc)
          into v_ids, v_ats
          from (select l.id, l.logged_at from public.logs as l
                 where l.id < v_before and l.logged_at >= v_since and l.logged_at < v_until
                   and (v_api or l.action is distinct from 'api_call')
                   and (v_level is null or l.level = v_level) and (p_component is null or l.component = p_component)
                   and (p_action is null or l.action = p_action)
                 order by l.id desc limit v_limit) as p;
    else
        -- `= any (array[v_who])` and `order by <user or actor>, id`, not `= v_who` and `order by id`: the
        -- primary key cannot give that order, so no plan walks it past other users' newer events, however
        -- the planner guesses how many of them are this user's (an equality would make the first column
        -- constant, and the primary key a candidate again). A btree gives the order for an `= any` on its
        -- first column.
        v_whos := array[v_who];
        select pg_catalog.array_agg(p.id order by p.id desc), pg_catalog.array_agg(p.logged_at order by p.id desc)
          into v_ids, v_ats
          from (select s.id, s.logged_at from (
                    (select l.id, l.logged_at from public.logs as l
                      where l.user_id = any (v_whos) and l.id < v_before and l.logged_at >= v_since and l.logged_at < v_until
                        and (v_api or l.action is distinct from 'api_call')
                        and (v_named is null or l.user_id = v_named or l.actor_id = v_named)
                        and (v_level is null or l.level = v_level) and (p_component is null or l.component = p_component)
                        and (p_action is null or l.action = p_action)
                      order by l.user_id desc, l.id desc limit v_limit)
                    union all
                    (select l.id, l.logged_at from public.logs as l
                      where l.actor_id = any (v_whos) and l.actor_id is distinct from l.user_id
                        and l.action is distinct from 'api_call'
                        and l.id < v_before and l.logged_at >= v_since and l.logged_at < v_until
                        and (v_named is null or l.user_id = v_named or l.actor_id = v_named)
                        and (v_level is null or l.level = v_level) and (p_component is null or l.component = p_component)
                        and (p_action is null or l.action = p_action)
                      order by l.actor_id desc, l.id desc limit v_limit)
                    union all
                    (select l.id, l.logged_at from public.logs as l
                      where v_api and l.actor_id = any (v_whos) and l.actor_id is distinct from l.user_id
                        and l.action is not distinct from 'api_call'
                        and l.id < v_before and l.logged_at >= v_since and l.logged_at < v_until
                        and (v_named is null or l.user_id = v_named or l.actor_id = v_named)
                        and (v_level is null or l.level = v_level) and (p_component is null or l.component = p_component)
                        and (p_action is null or l.action = p_action)
                      order by l.actor_id desc, l.id desc limit v_limit)
                ) as s order by s.id desc limit v_limit) as p;
    end if;
    -- The page's rows by their whole primary key (id, logged_at): each is looked up in its own month only.
    -- An API call's time is the request's (details.at), not when the batch was written. Names are read
    -- through row-level security on users: a user sees their own, an admin every one.
    return query
    select l.id::bigint,
           case when l.action = 'api_call' then coalesce((l.details ->> 'at')::timestamptz, l.logged_at)
                else l.logged_at end,
           l.logged_at, l.level::text, l.component::text, l.action, l.message, l.details,
           l.table_name, l.row_id, l.user_id, u.username::text, l.actor_id, a.username::text, l.request_id
    from rows from (pg_catalog.unnest(v_ids), pg_catalog.unnest(v_ats)) with ordinality as page (id, logged_at, n)
    join public.logs as l on l.id = page.id and l.logged_at = page.logged_at
    left join public.users as u on u.id = l.user_id
    left join public.users as a on a.id = l.actor_id
    order by page.n;
end
$$;
comment on function api.list_logs(bigint, integer, text, text, text, timestamptz, timestamptz, text, boolean) is
    'Log events, newest first: a user sees the events they caused or that are about them; admin and '
    'auditor see all. Filters: level, component, action, time, a user (p_username: their events as actor or '
    'subject). API-call records only with p_api_calls (or when asked for by action or component); their at '
    'is the request''s time. Keyset pagination: pass the last id you got as p_before_id. At most 500 a page. '
    'Reads only the page''s rows (and, with a filter, the rows it passes over).';

-- API calls, recorded by the API process in batches -------------------------------------------------
-- In schema audit, not api: no client calls it; the API process does, on its own connection as the
-- authenticator (which in api may call only what comes before a caller), like audit.seal().

drop function if exists audit.record_api_calls(jsonb);
create function audit.record_api_calls(p_calls jsonb)
returns integer
language plpgsql
security definer  -- the authenticator may not insert into logs itself
set search_path = ''
as $$
declare
    v_count integer;
begin
    if pg_catalog.jsonb_typeof(p_calls) is distinct from 'array' or pg_catalog.jsonb_array_length(p_calls) > 1000
       or exists (select from pg_catalog.jsonb_array_elements(p_calls) as c where pg_catalog.jsonb_typeof(c) <> 'object') then
        raise exception 'expected a JSON array of at most 1000 call objects' using errcode = 'SRP91';
    end if;
    -- The seed's "timestamp" keeps the request's time (UTC, as the API's sessions run); logged_at is the flush.
    insert into public.logs ("timestamp", level, component, action, message, details, actor_id, request_id,
                             client_request_id, client_addr)
    select coalesce(c.at, pg_catalog.now()) at time zone 'UTC',
           case when c.status >= 500 then 'ERROR' when c.status >= 400 then 'WARNING' else 'INFO' end,
           'api', 'api_call',
           audit.printable_text(pg_catalog.format('%s %s %s', c.method, c.route, c.status)),
           audit.printable_json(pg_catalog.jsonb_build_object('method', c.method, 'route', c.route, 'status', c.status,
                                                              'duration_ms', c.duration_ms, 'at', c.at)),
           c.user_id, audit.printable_text(c.request_id), audit.printable_text(c.client_request_id),
           coalesce(c.client_addr, pg_catalog.inet_client_addr())
    from pg_catalog.jsonb_to_recordset(p_calls)
         as c (method text, route text, status integer, duration_ms numeric, user_id integer,
               request_id text, client_request_id text, client_addr inet, at timestamptz);
    get diagnostics v_count = row_count;
    return v_count;
end
$$;
comment on function audit.record_api_calls(jsonb) is
    'Records a batch of API calls, one logs row each (action api_call; details method, route template, '
    'status, duration_ms, at). Called by the API process with what it buffered, off the requests'' path: '
    '[{"method":"POST","route":"/orders","status":201,"duration_ms":4.2,"user_id":7,'
    '"request_id":"...","client_request_id":"(the client''s X-Request-Id, or null)","client_addr":"10.0.0.5",'
    '"at":"2026-11-26T12:00:00Z"}, ...].';
