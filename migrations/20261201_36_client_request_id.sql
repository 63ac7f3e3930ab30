-- depends: 20261201_14_request_context
-- The X-Request-Id a client sends is kept beside the request id, never in its place.
--
-- The request id used to be the client's when it sent one, so any user could reuse another user's id and
-- both users' rows appeared under it in audit.request_trail. The server now always makes the request id;
-- the client's own value (for their tracing) is recorded in this column and shown as such. Null in older
-- rows: their row hashes do not change (a null column is left out of the hash).
alter table public.logs add column if not exists client_request_id text;
alter table public.order_logs add column if not exists client_request_id text;
alter table public.key_logs add column if not exists client_request_id text;

comment on column public.logs.client_request_id is 'The X-Request-Id the client sent, if any: theirs, not trusted; request_id is ours.';
comment on column public.order_logs.client_request_id is 'The X-Request-Id the client sent, if any: theirs, not trusted; request_id is ours.';
comment on column public.key_logs.client_request_id is 'The X-Request-Id the client sent, if any: theirs, not trusted; request_id is ours.';
