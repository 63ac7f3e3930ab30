"""The lists and limits the database enforces, written once for Python.

SQL is where each rule is enforced; Python needs the same values to validate early (a clear 422 before any
SQL runs), to offer choices (the GUI's pickers, the CLI's `choices`) and to read tokens. Each constant names
its SQL home, and `tests/test_rules.py` reads that home from the database and fails when the two differ.
Import these from here; never write the values again.
"""

from __future__ import annotations

ROLES = ("user", "admin", "auditor")
"""A caller's role: constraint users_role_known, private.roles(), api.begin_request (sql/10_context.sql)."""

ORDER_STATUSES = ("pending", "processing", "shipped", "cancelled")
"""An order's status: constraint orders_status_known, private.order_statuses() (sql/50_api_orders.sql)."""
# Which role may create an order in which status, or move one to it, is not copied here: the GUI asks the
# database (GET /order-statuses, from private.order_status_rules()).

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$"
"""A username's shape: constraint users_username_format and private.create_user (sql/20_auth.sql)."""
USERNAME_MIN, USERNAME_MAX = 3, 64

PASSWORD_MIN, PASSWORD_MAX = 12, 256
"""An account password's length in characters after NFKC: private.check_password_policy (sql/20_auth.sql)."""

DESCRIPTION_MAX = 10_000
"""An order's description, in characters: api.create_order (sql/50_api_orders.sql)."""

GENERATED_MIN, GENERATED_MAX = 8, 128
"""The length of a generated vault password: api.generate_password (sql/52_api_vault.sql)."""

ACCOUNT_DISABLED = "The account is disabled."
"""What a disabled account is told: the description of SQLSTATE SRA03 (account_disabled) in private.error_codes."""
