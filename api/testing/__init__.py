"""Strongroom's pytest plugin for testers' own suites (registered as the `strongroom` pytest11 entry point)."""
