"""Strongroom's API process and command line: a thin layer over the SQL in `sql/`."""
