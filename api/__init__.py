"""Strongroom's Python side, a thin layer over the SQL in `sql/`: four programs and what they share.

`api.http` (the FastAPI app), `api.cli` (the `strongroom` command), `api.postgres` (the embedded server,
which server to use, migrate) and `api.testing` (the testers' pytest plugin); beside them the settings,
the rules SQL enforces (`api.rules`), the HTTP client library, re-encryption, TLS and `Instance`.
"""
