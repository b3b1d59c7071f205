"""Per-container monitor (shim layer): owns a container's stdio, reaps it, serves shim.sock; see main.py."""
