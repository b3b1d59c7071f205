"""berth-runtime: an OCI runtime with runc's CLI (runtime layer, a process of its own)."""
