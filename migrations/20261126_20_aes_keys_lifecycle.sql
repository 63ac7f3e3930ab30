-- Keys: give the seed's aes_keys a lifecycle (active -> decrypt_only -> retired).
--
-- key_value keeps its seed meaning and type: it holds the data key, but only ever wrapped by the master
-- key (armored pgp_sym_encrypt, aes256). A retired key's material is destroyed by overwriting key_value
-- with '' (the seed's NOT NULL stays). The seed's is_active stays too and is kept equal to
-- state = 'active' by a check, so old queries keep their meaning.

alter table public.aes_keys
    add column state text not null default 'active',
    add column master_check bytea,
    add column retired_at timestamp;

-- A database from before this migration may hold several keys flagged active: keep the newest.
update public.aes_keys
   set state = case when is_active then 'active' else 'decrypt_only' end;
update public.aes_keys
   set state = 'decrypt_only', is_active = false, rotated_at = coalesce(rotated_at, now())
 where state = 'active'
   and id <> (select max(id) from public.aes_keys where state = 'active');

alter table public.aes_keys
    add constraint aes_keys_state_known
        check (state in ('active', 'decrypt_only', 'retired')),
    add constraint aes_keys_is_active_matches_state
        check (is_active is not distinct from (state = 'active')),
    add constraint aes_keys_retired_has_no_material
        check ((state = 'retired') = (key_value = '')),
    add constraint aes_keys_retired_has_time
        check ((state = 'retired') = (retired_at is not null));

-- At most one active key; the key functions make sure there is always one after the first.
create unique index aes_keys_one_active on public.aes_keys ((true)) where state = 'active';

comment on column public.aes_keys.key_value is
    'The 32-byte data key, wrapped by the master key (armored pgp_sym_encrypt, cipher-algo=aes256). '
    'Never stored unwrapped. Empty once the key is retired: the material is destroyed.';
comment on column public.aes_keys.is_active is
    'Seed column, kept equal to state = ''active'' by a check constraint.';
comment on column public.aes_keys.state is
    'active: encrypts new writes (exactly one); decrypt_only: after a rotation, still decrypts old rows; '
    'retired: no row uses it any more and its material is destroyed.';
comment on column public.aes_keys.master_check is
    'HMAC-SHA256 of a per-key constant under the master key: detects a wrong master key before any '
    'unwrap is tried. Reveals nothing about the master key or the data key.';
comment on column public.aes_keys.retired_at is 'When the key was retired and its material destroyed.';
