-- depends: 20261201_36_client_request_id 20261201_36_log_partition_schema
-- The schema of the API's one-statement entry points (sql/92_request.sql): request.<name> begins the
-- request (api.begin_request) and calls api.<name> in the caller's role, so that a call is one statement
-- in one round trip instead of BEGIN, the context, the function and COMMIT. Only the authenticator may use
-- it; the functions in it are generated from the api functions by that file, after every migrate.
create schema request;
revoke all on schema request from public;
