-- depends: 20261126_03_code_registry 20261126_41_idempotency_keys
-- Clean-up of what earlier versions of the re-applied sql/ files installed and no file defines any more.
-- It ran in sql/50_api_orders.sql at every migrate; a one-time change belongs here.

-- No longer raised: an object the caller may not see is answered with no row, the refusal logged.
delete from private.error_codes where sqlstate in ('SRN50', 'SRN51');

-- The orders file's own copy of private.require_caller() (sql/10_context.sql).
drop function if exists private.caller_id_or_raise();
