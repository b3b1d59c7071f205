"""Berth: a Docker-compatible container engine (berthd, berth, berth-runtime)."""

__version__ = "0.1.0"
