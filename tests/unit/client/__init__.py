"""Unit tests of the Engine API client."""
