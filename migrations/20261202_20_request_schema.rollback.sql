drop schema if exists request cascade;
