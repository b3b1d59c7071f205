"""Persistence (stores layer): blobs by digest, sqlite metadata, overlay snapshots, layer unpacking."""
