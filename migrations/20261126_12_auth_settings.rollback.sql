-- cascade: the code in sql/ that returns this row type goes too; `strongroom db migrate` puts it back.
drop table private.auth_settings cascade;
