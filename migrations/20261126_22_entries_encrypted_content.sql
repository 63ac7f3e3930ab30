-- Entries: the content of a secure note is always encrypted.
--
-- Decision: the seed's entries.content column stays (columns are never dropped) but holds no plaintext
-- any more; it is always NULL. The ciphertext lives in content_enc with its key in content_key_id.
-- The check that content is NULL is added NOT VALID: from now on no write can put plaintext there,
-- while rows written before this migration (if a database has any) keep theirs until
-- private.ensure_active_key(), which `strongroom db migrate` runs with the master key, encrypts them and
-- validates the constraint. A fresh database has no such rows.

alter table public.entries
    add column content_enc bytea,
    add column content_key_id integer references public.aes_keys (id),
    add column updated_at timestamp not null default now(),
    add constraint entries_content_never_plaintext check (content is null) not valid,
    add constraint entries_content_key_beside_ciphertext
        check ((content_enc is null) = (content_key_id is null));

-- Key maintenance (rows per key, re-encryption) looks rows up by key.
create index entries_content_key_id_idx on public.entries (content_key_id);

comment on column public.entries.content is
    'Seed column. Always NULL: the content is stored encrypted in content_enc (check constraint).';
comment on column public.entries.content_enc is
    'The content, pgp_sym_encrypt with the data key content_key_id; bound to this row and owner.';
comment on column public.entries.content_key_id is 'The data key (aes_keys.id) content_enc is encrypted with.';
comment on column public.entries.updated_at is 'Last change of title or content.';
