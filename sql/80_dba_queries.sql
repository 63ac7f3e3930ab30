-- The DBA's view of the audit trail, and the ready queries (documented in the README, "For DBAs: auditing").
--
-- audit.audit_trail puts the three log tables in one shape, with user names, so "who did what, when,
-- from where" is one SELECT. The view and the ready queries below run with the caller's rights
-- (security invoker): a DBA's superuser session sees everything; the auditor role sees the log tables and
-- the users' id and name, and nothing else of users (its own policy and column grant below). A view
-- running as the owner would see no names: users has forced row-level security, owner included.

drop view if exists audit.audit_trail cascade;
create view audit.audit_trail as
    select 'logs'::text as source, l.id, l.logged_at as at, l.level, l.component, l.action,
           l.table_name, l.row_id,
           case when l.table_name = 'orders' then l.row_id::integer end as order_id,
           case when l.table_name = 'aes_keys' then l.row_id::integer end as key_id,
           l.user_id, u.username, l.actor_id, a.username as actor_name, l.db_role, l.request_id, l.client_request_id,
           l.client_addr, l.message, l.details::text as details, l.before_image, l.after_image, l.txid
    from public.logs as l
    left join public.users as u on u.id = l.user_id
    left join public.users as a on a.id = l.actor_id
    union all
    select 'order_logs', o.id, o.logged_at, 'INFO', 'orders', o.action::text,
           'orders', o.order_id::bigint, o.order_id, null,
           null, null, o.actor_id, a.username, o.db_role, o.request_id, o.client_request_id,
           o.client_addr, null, o.details, null, null, o.txid
    from public.order_logs as o
    left join public.users as a on a.id = o.actor_id
    union all
    select 'key_logs', k.id, k.logged_at, 'INFO', 'keys', k.action::text,
           'aes_keys', k.key_id::bigint, null, k.key_id,
           null, null, k.actor_id, a.username, k.db_role, k.request_id, k.client_request_id,
           k.client_addr, null, k.details, null, null, k.txid
    from public.key_logs as k
    left join public.users as a on a.id = k.actor_id;
-- Every column has one type in all three branches (the explicit casts): PostgreSQL pushes a condition
-- on a view column into the branches only then, and so into each table's own indexes.
-- security_invoker exists from PostgreSQL 15; on 14 the view runs as its owner and shows no user names.
do $$
begin
    if current_setting('server_version_num')::integer >= 150000 then
        alter view audit.audit_trail set (security_invoker = true);
    end if;
end
$$;
comment on view audit.audit_trail is
    'Every audit row of logs, order_logs and key_logs in one shape, with user names. source and id name '
    'the row in its table; at is when it was written (logged_at); user is who the event is about, actor '
    'who was logged in (null with db_role = a DBA''s login: a change made directly in the database).';
comment on column audit.audit_trail.request_id is
    'The request id the server made for the API request (X-Request-Id of its answer); audit.request_trail finds by it.';
comment on column audit.audit_trail.client_request_id is
    'The X-Request-Id the client sent, if any, kept as theirs: any client may send any value, so nothing joins on it.';
comment on column audit.audit_trail.db_role is
    'The database role: strongroom_user/admin for API requests, a login role for direct database sessions.';

-- The seed's times are `timestamp` (no zone), kept as the seed has them: orders.created_at/updated_at,
-- users.created_at, aes_keys.created_at/rotated_at, order_logs/logs/key_logs."timestamp". Strongroom's
-- sessions (the API, migrate, the CLI) run with TimeZone UTC, so they hold UTC wall-clock times; the log
-- tables' logged_at (and audit_trail.at) are timestamptz. Compared as they are, a timestamp is read in the
-- DBA's own TimeZone and the two drift apart by the offset. audit.orders gives a DBA the orders with
-- timestamptz times (never a description), so a join with audit_trail compares like with like.
drop view if exists audit.orders;
create view audit.orders as
    select o.id, o.user_id, u.username, o.status::text as status, o.sensitive,
           o.created_at at time zone 'UTC' as created_at, o.updated_at at time zone 'UTC' as updated_at
    from public.orders as o
    left join public.users as u on u.id = o.user_id;
do $$
begin
    if current_setting('server_version_num')::integer >= 150000 then
        alter view audit.orders set (security_invoker = true);
    end if;
end
$$;
comment on view audit.orders is
    'The orders for a DBA''s joins with audit.audit_trail: the seed''s timestamp columns as timestamptz '
    '(they hold UTC), the owner''s name, no description.';

-- The auditor reads every user's id and name (the column grant is in 90_grants.sql, the policy in
-- 91_policies.sql), for the view's joins.

-- 1. Who changed order N, and how: its order_logs history and every row change of it, in order.
create or replace function audit.order_history(p_order_id integer)
returns setof audit.audit_trail
language sql stable security invoker set search_path = ''
as $$
    -- Both conditions on purpose: row_id reaches logs' (table_name, row_id) index, order_id reaches
    -- order_logs' (order_id) index (its row_id is a cast, which no index serves).
    select t.* from audit.audit_trail as t
    where t.table_name = 'orders' and t.row_id = p_order_id and t.order_id = p_order_id
    order by t.at, t.source, t.id
$$;
comment on function audit.order_history(integer) is
    'Who changed order N: created, each status change (details {from, to}), edits, with actor and request.';

-- 2. Failed logins in a recent period (default 24 hours), by user and client address.
create or replace function audit.failed_logins(p_within interval default interval '24 hours')
returns table (user_id integer, username text, client_addr inet, failures bigint, locked boolean,
               first_at timestamptz, last_at timestamptz)
language plpgsql stable security invoker set search_path = '' set plan_cache_mode = force_custom_plan
as $$
declare
    v_since timestamptz := pg_catalog.now() - p_within;
begin
    -- Planned for each call's window (PL/pgSQL with plan_cache_mode = force_custom_plan): told where
    -- the window starts, the planner leaves out the months before it. A SQL function, or a generic
    -- plan, plans for an unknown start, that is every month of the log tables, and the generic plan
    -- then read each month's BRIN: a cost that grew with the log's history (bench/paging).
    return query
    select t.user_id, t.username, t.client_addr,
           pg_catalog.count(*) filter (where t.action <> 'account_locked'),
           pg_catalog.bool_or(t.action in ('account_locked', 'login_refused_locked')),
           pg_catalog.min(t.at), pg_catalog.max(t.at)
    from audit.audit_trail as t
    where t.source = 'logs' and t.component = 'auth'
      and t.action in ('login_failed', 'account_locked', 'login_refused_locked', 'login_refused_disabled')
      and t.at >= v_since
    group by t.user_id, t.username, t.client_addr
    order by 4 desc, 7 desc;
end
$$;
comment on function audit.failed_logins(interval) is
    'Failed and refused logins within the period, per user (null: an unknown username) and address.';

-- 3. Every key event: key_logs (created, rotated, re-encryption progress, retired) and row changes of aes_keys.
create or replace function audit.key_events(p_key_id integer default null)
returns setof audit.audit_trail
language sql stable security invoker set search_path = ''
as $$
    -- As order_history, for one key; all keys is the second branch (never planned when a key is given).
    select u.* from (
        select t.* from audit.audit_trail as t
        where t.table_name = 'aes_keys' and t.row_id = p_key_id and t.key_id = p_key_id
        union all
        select t.* from audit.audit_trail as t
        where p_key_id is null and t.table_name = 'aes_keys'
    ) as u
    order by u.at, u.source, u.id
$$;
comment on function audit.key_events(integer) is 'Every key event, of one key or of all (null), oldest first.';

-- 4. Everything one request did.
create or replace function audit.request_trail(p_request_id text)
returns setof audit.audit_trail
language sql stable security invoker set search_path = ''
as $$
    select t.* from audit.audit_trail as t
    where t.request_id = p_request_id
    order by t.at, t.source, t.id
$$;
comment on function audit.request_trail(text) is
    'Every audit row one API request wrote, by the request id the server made (the X-Request-Id of its answer); '
    'the client''s own X-Request-Id, if it sent one, is in client_request_id.';

-- 5. The actions of one user over a period: what they did (actor), and what was done about them (user).
create or replace function audit.user_activity(p_user_id integer, p_from timestamptz, p_to timestamptz)
returns setof audit.audit_trail
language plpgsql stable security invoker set search_path = ''
as $$
declare
    v_lo integer;
    v_hi integer;
begin
    -- logs' indexes by user hold ids, not times (they serve paging, migration 20261202_10), so the window
    -- becomes a range of ids as well: every row written in the window's months (UTC, the partitions) has
    -- an id between the lowest and the highest of those months, each found at one end of a primary key.
    -- A range that holds every row of the window: the times are still checked, so nothing is guessed.
    select pg_catalog.min(l.id), pg_catalog.max(l.id) into v_lo, v_hi from public.logs as l
     where l.logged_at >= pg_catalog.date_trunc('month', p_from, 'UTC')
       and l.logged_at < pg_catalog.date_trunc('month', p_to, 'UTC') + interval '1 month';
    -- actor_id = N or user_id = N, spelled so that each arm has its index: logs_user_id (user_id, id), and
    -- the partial logs_actor_id, which holds only the rows whose actor differs from their user (migration
    -- 20261126_33). Planned for each call's values (EXECUTE): a generic plan knows neither the user nor
    -- the window, and would weigh the user's rows against the whole window of everyone's.
    return query execute
        'select t.* from audit.audit_trail as t
          where (t.user_id = $1 or (t.actor_id = $1 and t.actor_id is distinct from t.user_id))
            and t.at >= $2 and t.at < $3 and (t.source <> ''logs'' or t.id between $4 and $5)
          order by t.at, t.source, t.id'
        using p_user_id, p_from, p_to, coalesce(v_lo, 0), coalesce(v_hi, -1);
end
$$;
comment on function audit.user_activity(integer, timestamptz, timestamptz) is
    'What user N did, or what was done about them, in [p_from, p_to).';

-- 6. Changes made directly in the database, outside the API: row changes with no authenticated caller,
--    by a login role rather than one of Strongroom's roles (a DBA in psql, a script with the superuser).
create or replace function audit.direct_changes(p_since timestamptz default pg_catalog.now() - interval '7 days')
returns setof audit.audit_trail
language plpgsql stable security invoker set search_path = '' set plan_cache_mode = force_custom_plan
as $$
begin
    -- Planned for each call's window: audit.failed_logins (above) says why.
    return query
    select t.* from audit.audit_trail as t
    where t.source = 'logs' and t.table_name is not null and t.actor_id is null
      and t.db_role not like 'strongroom\_%' and t.at >= p_since
    order by t.at, t.id;
end
$$;
comment on function audit.direct_changes(timestamptz) is
    'Row changes made outside the API since p_since (default: 7 days): no caller, a login role as db_role.';

-- 7. Refused access: who asked for objects that belong to another user, in a recent period. Ordinary misses
--    (an id that belongs to nobody, one's own deleted note) are logged as not_found at INFO, not here.
create or replace function audit.refused_access(p_within interval default interval '24 hours')
returns table (at timestamptz, actor_id integer, actor_name text, table_name text, row_id bigint,
               request_id text, client_addr inet)
language plpgsql stable security invoker set search_path = '' set plan_cache_mode = force_custom_plan
as $$
declare
    v_since timestamptz := pg_catalog.now() - p_within;
begin
    -- Planned for each call's window: audit.failed_logins (above) says why.
    return query
    select t.at, t.actor_id, t.actor_name, t.table_name, t.row_id, t.request_id, t.client_addr
    from audit.audit_trail as t
    where t.source = 'logs' and t.action = 'access_refused' and t.at >= v_since
    order by t.at, t.id;
end
$$;
comment on function audit.refused_access(interval) is
    'Every refused access to another user''s object within the period (default 24 hours), oldest first, with '
    'the caller, the object and the request. Misses of ids that exist for nobody are action not_found.';

-- 8. Account locks: every lock of an account's shared budget or of one of its devices, in a recent period.
-- until_unlocked marks a lock at the hard limit of consecutive failures: it holds until
-- `strongroom admin unlock <username>` (or private.unlock_user) ends it.
create or replace function audit.account_locks(p_within interval default interval '7 days')
returns table (at timestamptz, user_id integer, username text, scope text, locked_until timestamptz,
               until_unlocked boolean, failures integer, client_addr inet, request_id text)
language plpgsql stable security invoker set search_path = '' set plan_cache_mode = force_custom_plan
as $$
declare
    v_since timestamptz := pg_catalog.now() - p_within;
begin
    -- Planned for each call's window: audit.failed_logins (above) says why.
    return query
    select t.at, t.user_id, t.username, d.scope, d.locked_until, coalesce(d.until_unlocked, false),
           d.failures_since_login, t.client_addr, t.request_id
    from audit.audit_trail as t
    cross join lateral pg_catalog.jsonb_to_record(t.details::jsonb)
        as d(scope text, locked_until timestamptz, until_unlocked boolean, failures_since_login integer)
    where t.source = 'logs' and t.component = 'auth' and t.action = 'account_locked'
      and t.at >= v_since
    order by t.at, t.id;
end
$$;
comment on function audit.account_locks(interval) is
    'Every account_locked event within the period (default 7 days), oldest first: the user, whether the '
    'account''s shared budget or one device was locked, until when (until_unlocked: needs an administrator).';
