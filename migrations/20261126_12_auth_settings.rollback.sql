drop table private.auth_settings;
