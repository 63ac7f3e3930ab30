drop table if exists private.idempotency_keys;
