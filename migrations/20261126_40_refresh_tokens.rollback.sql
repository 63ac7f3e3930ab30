drop table if exists private.refresh_tokens;
