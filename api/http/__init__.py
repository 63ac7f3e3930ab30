"""The HTTP API: validate a JWT, call one SQL function in one transaction, map the answer to HTTP."""
