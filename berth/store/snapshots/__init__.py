"""Snapshotters (stores layer): layer trees keyed by chain id and containers' writable layers."""
