drop table private.common_passwords;
