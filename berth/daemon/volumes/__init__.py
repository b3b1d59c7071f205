"""Volumes: named and anonymous directories that outlive containers (the local driver)."""
