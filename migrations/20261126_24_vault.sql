-- The password vault: per user, a site, a login, a secret and notes. Everything but the owner is
-- encrypted (with one data key per row, key_id); the site can still be looked up exactly and
-- case-insensitively through site_index, a blind index (HMAC of the owner and the normalised site
-- name under a subkey of the row's data key; see sql/52_api_vault.sql).

create table public.vault (
    id          serial primary key,
    user_id     integer not null references public.users (id) on delete cascade,
    key_id      integer not null references public.aes_keys (id),
    site_index  bytea not null,
    site_enc    bytea not null,
    login_enc   bytea not null,
    secret_enc  bytea not null,
    notes_enc   bytea,
    created_at  timestamp not null default now(),
    updated_at  timestamp not null default now()
);

-- Owner column indexed for row-level security and listing; the blind index for look-ups.
create index vault_user_id_idx on public.vault (user_id);
create index vault_user_site_idx on public.vault (user_id, site_index);
create index vault_key_id_idx on public.vault (key_id);

-- Row-level security is enabled and FORCEd here so that the table is never readable without it, even
-- by its owner (the api functions run as the owner); the policies live in sql/52_api_vault.sql.
alter table public.vault enable row level security;
alter table public.vault force row level security;

comment on table public.vault is
    'The password vault: one row per saved login. Owned by users; only its owner ever sees a row (RLS).';
comment on column public.vault.key_id is 'The data key (aes_keys.id) of every *_enc column and of site_index.';
comment on column public.vault.site_index is
    'Blind index: HMAC-SHA256 of owner and normalised site under a subkey of key_id. Equality only.';
comment on column public.vault.site_enc is 'The site as the user typed it, encrypted and bound to this row.';
comment on column public.vault.login_enc is 'The login (user name at the site), encrypted and bound to this row.';
comment on column public.vault.secret_enc is 'The password, encrypted and bound to this row.';
comment on column public.vault.notes_enc is 'Free notes, encrypted and bound to this row; null when none.';
