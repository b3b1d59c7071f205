"""Helper processes that work inside containers' network namespaces (never imported by the daemon)."""
