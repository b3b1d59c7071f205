"""OCI and Docker image formats (leaf layer): digests, media types, config helpers; no I/O."""
