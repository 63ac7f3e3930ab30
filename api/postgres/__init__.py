"""PostgreSQL tooling: the embedded server's launcher, which server to talk to, and migrate."""
