-- Which tables the change-audit trigger watches: the one list (README, "For DBAs: auditing").
--
-- Each line names a table and the columns whose values never reach a log. Besides the ones named, every
-- bytea column and every column whose name says password, secret, cipher, blind or token is redacted
-- (audit.enable_tracking), so a ciphertext column added later is covered the day this file is re-applied,
-- which `strongroom db migrate` does after every migration.

select audit.enable_tracking('public.users', array['hashed_password']);
select audit.enable_tracking('public.entries', array['content']);
select audit.enable_tracking('public.orders');
select audit.enable_tracking('public.aes_keys', array['key_value']);
-- Every secret column of vault (site, login, secret, notes, blind index) is bytea: redacted by type.
select audit.enable_tracking('public.vault');

-- Order events (created, status changed, sensitive field changed, deleted) go to order_logs, written by
-- the orders' change-audit trigger itself (audit.tg_row__audit).
