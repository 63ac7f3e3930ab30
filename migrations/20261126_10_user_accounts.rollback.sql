-- The code in sql/ that reads these columns (the view private.user_accounts and the functions returning
-- it) goes with them (cascade); `strongroom db migrate` puts it back.
drop index public.users_email_lower_key;
drop index public.users_username_lower_key;
alter table public.users
    drop constraint users_email_format,
    drop constraint users_username_format,
    drop column last_login_at cascade,
    drop column password_changed_at cascade,
    drop column locked_until cascade,
    drop column lock_count cascade,
    drop column failed_logins cascade,
    drop column token_version cascade,
    drop column role cascade;
