"""Unit tests of the berth CLI."""
