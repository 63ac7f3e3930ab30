drop schema if exists audit cascade;
drop schema if exists private cascade;
drop schema if exists api cascade;
drop extension if exists pgcrypto;
