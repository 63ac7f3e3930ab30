-- Orders: the seed's encryption toggle becomes a per-order "sensitive" flag. A sensitive order's
-- description is stored encrypted in description_enc (key in description_key_id) and the seed's
-- description column holds '' (it is NOT NULL in the seed); other orders keep it in clear.
-- The status is one of four values; the allowed transitions are enforced by a trigger (sql/50_api_orders.sql).

update public.orders set status = 'pending' where status is null;

alter table public.orders
    add column sensitive boolean not null default false,
    add column description_enc bytea,
    add column description_key_id integer references public.aes_keys (id),
    add column updated_at timestamp not null default now(),
    add constraint orders_status_known
        check (status is not null and status in ('pending', 'processing', 'shipped', 'cancelled')),
    add constraint orders_sensitive_means_encrypted
        check (sensitive = (description_enc is not null)),
    add constraint orders_sensitive_description_not_in_clear
        check (not sensitive or description = ''),
    add constraint orders_description_key_beside_ciphertext
        check ((description_enc is null) = (description_key_id is null));

create index orders_description_key_id_idx on public.orders (description_key_id)
    where description_key_id is not null;
-- Listing by status (admins filter all orders by status), newest first.
create index orders_status_id_idx on public.orders (status, id);

comment on column public.orders.description is
    'The description in clear, or '''' when the order is sensitive (then it is in description_enc).';
comment on column public.orders.sensitive is
    'The seed''s encryption toggle: when true the description is stored only encrypted.';
comment on column public.orders.description_enc is
    'A sensitive order''s description, pgp_sym_encrypt with the data key description_key_id; bound to this row.';
comment on column public.orders.description_key_id is 'The data key (aes_keys.id) of description_enc.';
comment on column public.orders.status is
    'pending -> processing -> shipped; pending or processing -> cancelled. Orders are cancelled, never deleted.';
comment on column public.orders.updated_at is 'Last status or description change.';
