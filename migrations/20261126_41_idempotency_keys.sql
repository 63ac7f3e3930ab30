-- depends: 20261126_40_refresh_tokens
-- Idempotency keys of POST requests that create things (orders, entries, vault items).
--
-- The key is claimed in the same transaction as the write and the answer is stored with it, so either
-- both exist or neither does: a retried request gets the first answer and creates nothing twice.
-- Keys belong to a user: two users may use the same key.

create table private.idempotency_keys (
    user_id int not null references public.users (id),
    key text not null check (length(key) between 1 and 255),
    request_hash bytea not null check (length(request_hash) = 32),
    status int check (status between 200 and 299),
    response jsonb,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    primary key (user_id, key)
);
create index idempotency_keys_expiry on private.idempotency_keys (expires_at);

comment on table private.idempotency_keys is
    'Idempotency-Key of each creating POST with the first answer; purged after expiry (api.purge_expired_sessions).';
comment on column private.idempotency_keys.request_hash is
    'SHA-256 of the call (function and arguments): the same key with another body is refused.';
comment on column private.idempotency_keys.response is 'The first answer, as sent (a response model without secrets).';
