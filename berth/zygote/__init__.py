"""The zygote: a preloaded single-threaded process that forks shims on the daemon's request."""
