-- depends: 20261126_41_idempotency_keys
-- The request context: who is calling, kept where no runtime role can write it.
--
-- Until now the caller lived in transaction-local settings (set_config(..., true)), which any statement
-- of the same transaction can change: one injected `select set_config('strongroom.user_id', ...)` made
-- the session another user. The context now lives in this table, written only by the SECURITY DEFINER
-- functions of sql/10_context.sql (api.begin_request, api.begin_anonymous_request) and read only through
-- the private.caller_*() getters. A row belongs to one backend and is valid for one transaction: its
-- key is the backend's pid, and the getters match the transaction id, so nothing of it outlives COMMIT
-- or ROLLBACK on a pooled connection, and each backend keeps at most one row (updated in place, HOT).
-- Unlogged: the rows are worth nothing after a crash, and a request should not write WAL to say who it is.

create unlogged table private.request_context (
    backend_pid int primary key,
    xact_id xid8 not null,
    db_role text not null,
    user_id int,
    role text check (role in ('user', 'admin', 'auditor')),
    token_version int,
    session_id uuid,
    request_id text,
    client_request_id text,
    client_addr inet,
    authenticated_user int,
    subject_id int,
    subject_name text,
    started_at timestamptz not null default now(),
    check ((user_id is null) = (role is null))
);

comment on table private.request_context is
    'The verified caller of each backend''s current transaction (one row per backend, matched on xact_id). '
    'Written only by api.begin_request / api.begin_anonymous_request; no runtime role may touch it.';
comment on column private.request_context.xact_id is 'The transaction the row is valid in (pg_current_xact_id()).';
comment on column private.request_context.db_role is
    'The role the session was switched to (the role setting); the context is void in any other role.';
comment on column private.request_context.request_id is 'Made by the server for every request; joins HTTP logs and audit rows.';
comment on column private.request_context.client_request_id is 'The X-Request-Id the client sent, if any: kept, never trusted.';
comment on column private.request_context.authenticated_user is
    'Set by a successful api.login in this transaction: the one user api.open_session may open a session for.';
comment on column private.request_context.subject_id is
    'The one account a session opening or refresh may read before there is a caller (row-level security on users).';
comment on column private.request_context.subject_name is
    'The one username login or registration may read before there is a caller (row-level security on users).';

-- Key maintenance (re-encryption, key usage counts) lets the owner see every user's rows while it runs.
-- It may run in a read-only transaction, where the context row cannot be written, so its flag stays a
-- transaction-local setting; its value is an HMAC under this secret of the backend and the transaction's
-- start, which no runtime role can read, so a caller cannot forge it (private.key_maintenance()).
create table private.maintenance_secret (
    only_row boolean primary key default true check (only_row),
    secret bytea not null default public.gen_random_bytes(32)
);
insert into private.maintenance_secret default values;
comment on table private.maintenance_secret is
    'The key that makes the key maintenance flag unforgeable (private.key_maintenance()); read by no runtime role.';
