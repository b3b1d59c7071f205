"""Leaf helpers usable by every layer: atomic writes, ids, time formats."""
