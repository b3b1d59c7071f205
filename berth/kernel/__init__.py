"""Thin ctypes layer over Linux syscalls (kernel layer): no policy, failures are OSError(errno)."""
