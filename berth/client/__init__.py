"""Berth's Engine API client library (HTTP/1.1 over a unix socket, no http.client)."""

from berth.client.api import DEFAULT_HOST, APIError, Client, DaemonUnreachable, default_host

__all__ = ["DEFAULT_HOST", "APIError", "Client", "DaemonUnreachable", "default_host"]
