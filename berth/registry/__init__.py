"""OCI distribution v1.1 registry server (`berth registry serve`): storage, auth and HTTP handlers."""
