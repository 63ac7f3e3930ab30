-- Every REVOKE and GRANT, so privileges read in one sitting. One section per area.

-- Foundation ---------------------------------------------------------------------------------------
revoke all on schema api, private, audit from public;
revoke all on all tables in schema public from public;
revoke all on all tables in schema private from public;
revoke execute on all functions in schema api, private, audit from public;

-- Caller roles reach the api schema; what they may call in it is granted per function below.
grant usage on schema api to strongroom_user, strongroom_admin, strongroom_auditor;
grant usage on schema api to strongroom_authenticator;
grant execute on function api.installed_code() to strongroom_authenticator;
