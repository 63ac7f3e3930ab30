drop table if exists public.vault;
