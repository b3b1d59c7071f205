"""berth: the docker-compatible command-line client."""
