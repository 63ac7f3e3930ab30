drop index if exists public.entries_content_key_id_idx;
alter table public.entries
    drop constraint if exists entries_content_key_beside_ciphertext,
    drop constraint if exists entries_content_never_plaintext,
    drop column if exists updated_at,
    drop column if exists content_key_id,
    drop column if exists content_enc;
