"""Thin ctypes layer over the Linux syscalls Berth needs (kernel layer): no policy, errors are OSError(errno)."""
