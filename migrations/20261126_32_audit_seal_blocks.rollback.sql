drop table audit.settings;
drop table audit.retired_partitions;
drop table audit.seal_blocks;
drop schema audit_archive cascade;
