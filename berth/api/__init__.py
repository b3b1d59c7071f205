"""berthd's Docker-compatible HTTP API: the HTTP server, middleware, route modules and stream helpers."""
