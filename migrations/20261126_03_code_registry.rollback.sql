drop table if exists private.error_codes;
drop table if exists private.installed_code;
