-- An order's history for the API: its order_logs rows, to the order's owner or an administrator.
--
-- It lives here because the API needs it and neither the orders file (50) nor the audit's DBA queries
-- (audit.order_history, for auditors, without an ownership check) provide it; it belongs with the orders
-- and can move to 50_api_orders.sql as is. Visibility is private.visible_order's (no row
-- otherwise, the refusal logged; every visible order has at least its 'created' event).

create or replace function api.order_history(p_order_id integer)
returns table (id integer, order_id integer, "timestamp" timestamp, action text, details text,
               actor_id integer, request_id text)
language plpgsql
security definer  -- the caller roles may not read order_logs; visibility is checked first
set search_path = ''
as $$
begin
    if private.visible_order(p_order_id) is null then
        return;  -- not the caller's: refusal logged, no row
    end if;
    return query
        select l.id, l.order_id, l.timestamp, l.action::text, l.details, l.actor_id, l.request_id
          from public.order_logs l
         where l.order_id = p_order_id
         order by l.id;
end
$$;
comment on function api.order_history(integer) is
    'The events of one order (created, status changes), oldest first: own orders, or any for an admin. No row otherwise (the refusal is logged).';
