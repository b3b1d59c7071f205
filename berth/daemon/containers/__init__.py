"""The containers service: records, lifecycle, attach, exec, logs (daemon services layer)."""
