-- depends: 20261126_31_audit_partition_logs
-- Sealed blocks: the hash chain over the log rows, and the record of retired partitions.
--
-- A row's own SHA-256 (row_hash) proves the row was not edited; it cannot prove that no row was deleted
-- or inserted. audit.seal() therefore groups the rows of finished transactions into blocks, one per log
-- table and month, each holding the hash of its rows' hashes and the previous block's hash. Sealing
-- goes by transaction id, not by row id: rows commit out of id order, and a block takes exactly the rows
-- whose inserting transaction id lies in [xid_from, xid_to), a range no running transaction can still
-- add to. One seal run writes blocks with the same range; consecutive runs' ranges touch, so every row
-- falls in exactly one block.

-- Block ids are gapless (audit.seal() holds the table's lock and takes the previous id + 1), so a
-- removed block in the middle of the chain shows as a gap as well as a broken link.
create table audit.seal_blocks (
    id          bigint      primary key,
    log_table   text        not null check (log_table in ('logs', 'order_logs', 'key_logs')),
    month       timestamptz not null,  -- the UTC month of the rows' logged_at (their partition)
    xid_from    xid8        not null,
    xid_to      xid8        not null,
    row_count   bigint      not null check (row_count > 0),
    rows_hash   bytea       not null,
    prev_hash   bytea       not null,
    block_hash  bytea       not null,
    sealed_at   timestamptz not null default now(),
    sealed_by   text        not null default current_user,
    check (xid_from < xid_to),
    unique (log_table, month, xid_from)
);
create index seal_blocks_xid_from on audit.seal_blocks (xid_from);

create table audit.retired_partitions (
    id           bigint generated always as identity primary key,
    log_table    text        not null,
    month        timestamptz not null,
    archived_as  text        not null,
    row_count    bigint      not null,
    retired_at   timestamptz not null default now(),
    retired_by   text        not null default current_user,
    unique (log_table, month)
);

create table audit.settings (
    name        text primary key,
    value       text not null,
    description text not null
);
-- Retired partitions are detached from the log tables and kept here until a DBA has dumped and dropped
-- them; no runtime role can read this schema.
create schema audit_archive;

insert into audit.settings (name, value, description) values
    ('retention_months', '24',
     'Sealed log partitions older than this many whole months are moved to schema audit_archive by '
     'audit.retire_partitions().');
