"""Registry client (distribution layer, beside the stores): OCI distribution pulls and pushes over httpx."""
