-- depends: 20261126_32_audit_seal_blocks
-- Retention archives and drops: each retired partition records the dump that holds it and when it was dropped.
--
-- Why: audit.drop_archived() must refuse a table nobody archived, and a DBA must be able to say, years
-- later, which file holds a dropped month and check that file against the hash recorded when it was
-- written. The columns stay null until `strongroom audit retire` (or a DBA) has dumped the table and
-- checked the dump reads back.
alter table audit.retired_partitions
    add column archive_file   text,
    add column archive_sha256 text check (archive_sha256 ~ '^[0-9a-f]{64}$'),
    add column archived_at    timestamptz,
    add column archived_by    text,
    add column dropped_at     timestamptz,
    add column dropped_by     text,
    add constraint retired_partitions_archive_complete
        check ((archive_file is null) = (archive_sha256 is null)
               and (archive_file is null) = (archived_at is null)),
    add constraint retired_partitions_dropped_only_archived
        check (dropped_at is null or archive_sha256 is not null);

comment on column audit.retired_partitions.archive_file is
    'The file the partition was dumped to (pg_dump custom format), as the archiving host named it.';
comment on column audit.retired_partitions.archive_sha256 is
    'SHA-256 (hex) of that file when it was written and checked: compare it before trusting a restore.';
comment on column audit.retired_partitions.dropped_at is
    'When audit.drop_archived() dropped the table from audit_archive; null while it is still there.';
