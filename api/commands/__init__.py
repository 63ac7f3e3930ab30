"""Command groups of `strongroom`; each module has `register(subparsers)`."""
