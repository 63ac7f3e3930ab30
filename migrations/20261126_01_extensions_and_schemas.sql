-- pgcrypto (hashing, random bytes, OpenPGP symmetric encryption) and the schemas of our own code:
--   api      the functions clients may call, and nothing else;
--   private  helpers and internal tables that no runtime role reaches directly;
--   audit    sealing and verification of the log tables.
-- The seed's tables stay in public, where the specification (and every DBA) looks for them.

create extension if not exists pgcrypto with schema public;

create schema api;
create schema private;
create schema audit;

revoke all on schema api, private, audit from public;
