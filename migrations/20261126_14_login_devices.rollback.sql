drop table private.login_devices;
-- cascade: the code in sql/ that reads this column (private.user_accounts and the api functions returning
-- it) goes too; `strongroom db migrate` puts it back.
alter table public.users drop column failures_since_login cascade;
alter table private.auth_settings drop column devices_per_user, drop column lockout_hard_limit;
