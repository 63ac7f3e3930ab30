-- The functions of sql/10_context.sql that read the table are re-created by the next migrate.
drop table if exists private.request_context cascade;
drop table if exists private.maintenance_secret;
