-- The database code in sql/ that reads these tables and the log tables' new shape goes first.
drop view if exists audit.audit_trail cascade;
drop view if exists audit.log_rows cascade;
drop view if exists audit.log_rows_rehashed cascade;
drop table audit.settings;
drop table audit.retired_partitions;
drop table audit.seal_blocks cascade;
drop schema audit_archive cascade;
