-- Orders: a description, a status, and the "sensitive" flag (the seed's encryption toggle). A sensitive
-- order's description is stored only encrypted (description_enc, bound to the order's row); the seed's
-- description column then holds ''.
--
-- Status transitions: pending -> processing -> shipped; pending or processing -> cancelled. The rule is
-- one function (private.order_transition_refusal) used by a trigger, so it holds for every UPDATE, from
-- the API or from psql. Orders are cancelled, never deleted (no delete function, no DELETE grant).
-- Who may move an order: an admin any allowed step; a user only cancels their own orders.
-- Who may create an order in which status: anyone pending; an admin also processing (an order that is
-- already being worked on when it is entered). Both read one list, private.order_status_rules().
-- A user sees their own orders; an admin sees all. Another user's order is "not found": the function
-- records the refusal in logs (private.log_access_refused) and returns no row, so the record commits with
-- the request (a raise would roll it back); the API answers 404 for no row.

insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRC50', 'bad_status_transition', 409, 'The order''s status cannot change that way; the message says why.'),
    ('SRF52', 'order_status_admin_only', 403, 'Only an admin may move an order to processing or shipped, or '
                                              'create one that is already processing.'),
    ('SRP51', 'unknown_order_status', 422, 'Not an order status; the message lists the statuses.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;

-- Orders.

create or replace function private.order_status_rules()
returns table (status text, description text, created_by text[], set_by text[])
language sql immutable set search_path = '' as $$
    values ('pending', 'Entered, not yet worked on: where an order starts.', array['user', 'admin'], array[]::text[]),
           ('processing', 'Being worked on.', array['admin'], array['admin']),
           ('shipped', 'Sent: a final status.', array[]::text[], array['admin']),
           ('cancelled', 'Called off before it shipped: a final status.', array[]::text[], array['user', 'admin']);
$$;
comment on function private.order_status_rules() is
    'The order statuses in workflow order: what each means, which roles may create an order in it (created_by) '
    'and which may move an order to it (set_by; an admin''s move is judged by the transitions alone).';

create or replace function private.order_statuses() returns text[]
language sql immutable set search_path = '' as $$
    select array(select r.status from private.order_status_rules() r)
$$;
comment on function private.order_statuses() is
    'Every order status, in workflow order: the one list the order functions check against (the API''s and '
    'the GUI''s copy is api/rules.py, and the constraint orders_status_known, pinned by tests/test_rules.py).';

create or replace function private.order_status_unknown(p_status text) returns text
language sql immutable set search_path = '' as $$
    select case when p_status is null or p_status <> all (private.order_statuses())
                then pg_catalog.format('%s is not an order status (%s)', coalesce(pg_catalog.quote_literal(p_status), 'null'),
                                       pg_catalog.array_to_string(private.order_statuses(), ', '))
           end;
$$;
comment on function private.order_status_unknown(text) is
    'Null for a known order status, else a message that lists the statuses (raised as SRP51, a 422).';

create or replace function private.order_transition_refusal(p_from text, p_to text) returns text
language sql immutable set search_path = '' as $$
    select case
        when p_to <> all (private.order_statuses())
            then pg_catalog.format('%L is not an order status (%s)', p_to,
                                   pg_catalog.array_to_string(private.order_statuses(), ', '))
        when p_from = p_to
            then pg_catalog.format('the order is already %s', p_from)
        when (p_from, p_to) in (('pending', 'processing'), ('processing', 'shipped'),
                                ('pending', 'cancelled'), ('processing', 'cancelled'))
            then null
        when p_from in ('shipped', 'cancelled')
            then pg_catalog.format('the order is %s, a final status: it cannot become %s', p_from, p_to)
        when p_to = 'pending'
            then pg_catalog.format('the order is %s: it cannot go back to pending', p_from)
        else pg_catalog.format('a %s order cannot become %s; it must be processing first', p_from, p_to)
    end;
$$;
comment on function private.order_transition_refusal(text, text) is
    'Null when an order may go from p_from to p_to, else the reason it may not. The one home of the rule.';

create or replace function private.tg_orders__check_status() returns trigger
language plpgsql set search_path = '' as $$
declare
    v_reason text := private.order_transition_refusal(old.status, new.status);
begin
    if v_reason is not null then
        raise exception 'order %: %', old.id, v_reason using errcode = 'SRC50',
            hint = 'Allowed: pending -> processing -> shipped; pending or processing -> cancelled.';
    end if;
    new.updated_at := pg_catalog.now();
    return new;
end $$;
comment on function private.tg_orders__check_status() is 'Refuses a status change that is not an allowed transition (SRC50).';

drop trigger if exists _100_orders_check_status on public.orders;
create trigger _100_orders_check_status
    before update of status on public.orders
    for each row
    execute function private.tg_orders__check_status();

-- Helpers take and return scalars, never an orders row, so that no function depends on the table's type
-- (a migration rollback can then drop the table).
create or replace function private.order_description(p_id integer, p_sensitive boolean, p_description text,
                                                      p_enc bytea, p_key_id integer)
returns text
language sql volatile set search_path = '' as $$
    select case when p_sensitive
                then private.decrypt(p_enc, p_key_id, private.place('orders', 'description', null, p_id))
                else p_description end;
$$;
comment on function private.order_description(integer, boolean, text, bytea, integer) is
    'An order''s description as the api returns it: decrypted when the order is sensitive.';

create or replace function private.order_out(p_id integer)
returns table (id integer, user_id integer, description text, sensitive boolean, status text,
               created_at timestamp, updated_at timestamp)
language sql volatile set search_path = '' as $$
    select o.id, o.user_id,
           private.order_description(o.id, o.sensitive, o.description, o.description_enc, o.description_key_id),
           o.sensitive, o.status::text, o.created_at, o.updated_at
      from public.orders o where o.id = p_id;
$$;
comment on function private.order_out(integer) is 'One order as the api returns it. Visibility is checked by the caller.';

create or replace function private.visible_order(p_id integer) returns integer
language plpgsql volatile set search_path = '' as $$
declare
    v_user integer := private.require_caller();
begin
    perform from public.orders x
     where x.id = p_id and (x.user_id = v_user or private.caller_role() = 'admin');
    if not found then
        perform private.log_access_refused('orders', p_id);
        return null;
    end if;
    return p_id;
end $$;
comment on function private.visible_order(integer) is
    'p_id if the caller owns the order or is an admin; else the refusal is logged and the result is null '
    '(the caller then returns no row, and must not raise: the log row would roll back with it).';

drop function if exists api.create_order(text, boolean);
drop function if exists api.create_order(text, boolean, text);
create function api.create_order(p_description text, p_sensitive boolean default false,
                                 p_status text default 'pending')
returns table (id integer, user_id integer, description text, sensitive boolean, status text,
               created_at timestamp, updated_at timestamp)
language plpgsql volatile
security definer  -- encrypting needs the wrapped keys in aes_keys
set search_path = ''
as $$
declare
    v_user integer := private.require_caller();
    v_role text := private.caller_role();
    v_status text := coalesce(p_status, 'pending');
    v_id integer;
    v_key integer;
begin
    perform private.check_field_text('description', p_description, 10000, true);
    if private.order_status_unknown(v_status) is not null then
        raise exception '%', private.order_status_unknown(v_status) using errcode = 'SRP51';
    end if;
    if not exists (select from private.order_status_rules() r where r.status = v_status and v_role = any (r.created_by)) then
        raise exception 'a % may not create an order that is already %', v_role, v_status using errcode = 'SRF52',
            hint = pg_catalog.format('A %s may create an order in: %s.', v_role,
                                     (select pg_catalog.string_agg(r.status, ', ') from private.order_status_rules() r
                                       where v_role = any (r.created_by)));
    end if;
    v_id := pg_catalog.nextval('public.orders_id_seq');
    if p_sensitive then
        v_key := private.active_key_id();
    end if;
    insert into public.orders (id, user_id, description, sensitive, description_enc, description_key_id, status)
    values (v_id, v_user,
            case when p_sensitive then '' else p_description end,
            coalesce(p_sensitive, false),
            case when p_sensitive
                 then private.encrypt(p_description, v_key, private.place('orders', 'description', null, v_id)) end,
            v_key, v_status);
    return query select * from private.order_out(v_id);
end $$;
comment on function api.create_order(text, boolean, text) is
    'Creates an order for the caller, pending unless p_status says otherwise: private.order_status_rules() says '
    'which roles may create an order in which status (SRF52 otherwise; SRP51 for no such status). Sensitive: '
    'the description (1-10000 characters) is stored only encrypted.';

drop function if exists api.order_statuses();
create function api.order_statuses()
returns table (status text, description text, may_create boolean, may_set boolean)
language sql stable
security definer  -- the caller roles have no usage on schema private, where the list lives
set search_path = ''
as $$
    select r.status, r.description, private.caller_role() = any (r.created_by),
           private.caller_role() = any (r.set_by)
      from private.order_status_rules() r;
$$;
comment on function api.order_statuses() is
    'The order statuses in workflow order, with what each means, and whether the caller''s role may create an '
    'order in it (may_create) or move an order to it (may_set). Forms offer only what the caller may do.';

drop function if exists api.list_orders(text, integer, integer);
create function api.list_orders(p_status text default null, p_before_id integer default null,
                                p_limit integer default 50)
returns table (id integer, user_id integer, description text, sensitive boolean, status text,
               created_at timestamp, updated_at timestamp)
language plpgsql volatile
security definer  -- decrypting sensitive descriptions needs the wrapped keys in aes_keys
set search_path = ''
as $$
-- Paging stays flat: a page costs the same for the first and the thousandth page, for a user with ten
-- orders or a million, whatever other users hold, under custom and generic plans alike. So the page's ids
-- are picked first, by one of three fixed statements whose conditions an index answers directly (no
-- `v_admin or ...`, no `p_before_id is null or ...`, which a generic plan can only filter by):
-- (user_id, id) for a user, the primary key or (status, id) for an admin; then only those rows are read
-- and decrypted.
declare
    v_user integer := private.require_caller();
    v_admin boolean := private.caller_role() = 'admin';
    v_before integer := coalesce(p_before_id, 2147483647);
    v_ids integer[];
begin
    perform private.check_page_limit(p_limit);
    if p_status is not null and p_status <> all (private.order_statuses()) then
        raise exception '% is not an order status (%)', p_status,
            pg_catalog.array_to_string(private.order_statuses(), ', ') using errcode = 'SRP50';
    end if;
    -- Keyset pagination, newest first: pass the last id seen as p_before_id.
    if not v_admin then
        v_ids := array(select x.id from public.orders x
                        where x.user_id = v_user and x.id < v_before and (p_status is null or x.status = p_status)
                        order by x.id desc limit p_limit);
    elsif p_status is null then
        v_ids := array(select x.id from public.orders x where x.id < v_before order by x.id desc limit p_limit);
    else
        v_ids := array(select x.id from public.orders x where x.status = p_status and x.id < v_before
                        order by x.id desc limit p_limit);
    end if;
    return query
        select o.id, o.user_id,
               private.order_description(o.id, o.sensitive, o.description, o.description_enc, o.description_key_id),
               o.sensitive, o.status::text, o.created_at, o.updated_at
          from pg_catalog.unnest(v_ids) with ordinality as page (id, n)
          join public.orders o on o.id = page.id
         order by page.n;  -- by position, not `o.id = any(v_ids) order by o.id`: see api.list_entries
exception when external_routine_invocation_exception then
    perform private.raise_unreadable('an order in this list');
end $$;
comment on function api.list_orders(text, integer, integer) is
    'The caller''s orders (an admin: all), newest first, optionally one status; keyset pagination by p_before_id. '
    'Reads and decrypts only the page''s rows.';

drop function if exists api.get_order(integer);
create function api.get_order(p_id integer)
returns table (id integer, user_id integer, description text, sensitive boolean, status text,
               created_at timestamp, updated_at timestamp)
language plpgsql volatile
security definer  -- decrypting needs the wrapped keys in aes_keys
set search_path = ''
as $$
begin
    return query select * from private.order_out(private.visible_order(p_id));
exception when external_routine_invocation_exception then
    perform private.raise_unreadable(pg_catalog.format('order %s', p_id));
end $$;
comment on function api.get_order(integer) is
    'One order (own, or any for an admin), decrypted. No row otherwise (the refusal is logged).';

drop function if exists api.set_order_status(integer, text);
create function api.set_order_status(p_id integer, p_status text)
returns table (id integer, user_id integer, description text, sensitive boolean, status text,
               created_at timestamp, updated_at timestamp)
language plpgsql volatile
security definer  -- the caller roles have no direct UPDATE on orders
set search_path = ''
as $$
declare
    v_id integer := private.visible_order(p_id);
begin
    if v_id is null then
        return;  -- not the caller's: refusal logged, no row
    end if;
    if private.order_status_unknown(p_status) is not null then
        raise exception '%', private.order_status_unknown(p_status) using errcode = 'SRP51';
    end if;
    -- An admin's move is judged by the transition rule alone (the trigger); a user's also by set_by.
    if private.caller_role() is distinct from 'admin'
       and not exists (select from private.order_status_rules() r
                        where r.status = p_status and private.caller_role() = any (r.set_by)) then
        raise exception 'only an admin may move an order to %', p_status using errcode = 'SRF52',
            hint = 'A user may cancel their own pending or processing order.';
    end if;
    -- The trigger _100_orders_check_status refuses a transition that is not allowed, with the reason.
    update public.orders x set status = p_status where x.id = v_id;
    return query select * from private.order_out(v_id);
exception when external_routine_invocation_exception then
    perform private.raise_unreadable(pg_catalog.format('order %s', p_id));
end $$;
comment on function api.set_order_status(integer, text) is
    'Moves an order along pending -> processing -> shipped, or cancels it; SRC50 with the reason otherwise. '
    'Admins make any allowed move; a user may only cancel their own order. No row when the order is not '
    'visible to the caller (the refusal is logged).';

-- An order's history: its order_logs rows, to whoever may see the order (private.visible_order; no row
-- otherwise, the refusal logged). Every visible order has at least its 'created' event. Auditors have
-- audit.order_history (sql/80_dba_queries.sql), without the ownership check.

create or replace function private.json_object_of(p_text text) returns jsonb
language plpgsql immutable set search_path = '' as $$
-- The seed's order_logs.details is text; our triggers write a JSON object into it. Anything else (a row a
-- DBA wrote by hand) is still answered as an object, so clients read one shape.
declare
    v_json jsonb;
begin
    if p_text is null then
        return null;
    end if;
    v_json := p_text::jsonb;
    return case when pg_catalog.jsonb_typeof(v_json) = 'object' then v_json
                else pg_catalog.jsonb_build_object('value', v_json) end;
exception when invalid_text_representation then
    return pg_catalog.jsonb_build_object('text', p_text);
end $$;
comment on function private.json_object_of(text) is
    'A text column holding JSON (order_logs.details) as a jsonb object; other text as {"text": ...}.';

drop function if exists api.order_history(integer);
create function api.order_history(p_order_id integer)
returns table (id integer, order_id integer, "timestamp" timestamp, action text, details jsonb,
               actor_id integer, actor_name text, actor_role text, request_id text)
language plpgsql
security definer  -- the caller roles may not read order_logs; visibility is checked first
set search_path = ''
as $$
begin
    if private.visible_order(p_order_id) is null then
        return;  -- not the caller's: refusal logged, no row
    end if;
    -- The actor's name as far as the caller may read users (row-level security: a user sees their own
    -- name, an admin every name); the role the change ran as in any case.
    return query
        select l.id, l.order_id, l.timestamp, l.action::text, private.json_object_of(l.details), l.actor_id,
               u.username::text, pg_catalog.replace(l.db_role, 'strongroom_', ''), l.request_id
          from public.order_logs l
          left join public.users u on u.id = l.actor_id
         where l.order_id = p_order_id
         order by l.id;
end
$$;
comment on function api.order_history(integer) is
    'The events of one order (created, status changes), oldest first, details as a JSON object, with who did '
    'each (name as far as the caller may read it, and role): own orders, or any for an admin. No row otherwise '
    '(the refusal is logged).';
