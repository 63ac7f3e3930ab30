-- Which tables the change-audit trigger watches: the one list (DESIGN §5).
--
-- Each line names a table and the columns whose values never reach a log (password hashes, blind
-- indexes). Every bytea column (ciphertexts, key material) is redacted as well without being named.
-- Re-applied after every migrate, so a column added to an audited table is covered the same day.

select audit.enable_tracking('public.users', array['password_hash']);
select audit.enable_tracking('public.entries');
select audit.enable_tracking('public.orders');
select audit.enable_tracking('public.aes_keys', array['key_value']);
-- TODO(lead): when the vault table lands from the keys branch, add its line here, e.g.
-- select audit.enable_tracking('public.vault', array['secret', 'site_blind_index']);

-- Order events (created, status changed, sensitive flag changed, deleted) go to order_logs.
drop trigger if exists _910_order_events on public.orders;
create trigger _910_order_events after insert or update or delete on public.orders
    for each row execute function audit.tg_orders__order_events();
