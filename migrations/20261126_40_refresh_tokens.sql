-- depends: 20261126_03_code_registry
-- API sessions: refresh tokens, stored only as a SHA-256 of their random id, in families.
--
-- A login starts a family; each refresh uses its token once and issues the next one in the same family.
-- Presenting a token that was already used means it was copied: the whole family is revoked, so the thief
-- and the victim both have to log in again (the OAuth 2.0 security BCP's refresh token rotation).

create table private.refresh_tokens (
    id bigint generated always as identity primary key,
    user_id int not null references public.users (id),
    family uuid not null,
    token_hash bytea not null unique check (length(token_hash) = 32),
    token_version int not null,
    issued_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz,
    revoked_at timestamptz,
    check (expires_at > issued_at)
);
create index refresh_tokens_family on private.refresh_tokens (family);
create index refresh_tokens_user on private.refresh_tokens (user_id);

comment on table private.refresh_tokens is
    'Refresh tokens of the API, single use, grouped in families (one per login). Reuse revokes the family.';
comment on column private.refresh_tokens.token_hash is 'SHA-256 of the token''s jti; the token itself is never stored.';
comment on column private.refresh_tokens.token_version is
    'The user''s token version when issued: a later logout everywhere or password change makes it stale.';
comment on column private.refresh_tokens.used_at is 'When it was exchanged for the next token; a second use revokes the family.';
comment on column private.refresh_tokens.revoked_at is 'When its family was revoked (logout, reuse detected).';
