drop table private.login_devices;
alter table public.users drop column failures_since_login;
alter table private.auth_settings drop column devices_per_user, drop column lockout_hard_limit;
