"""Healthcheck bookkeeping as dockerd's: probe commands, status changes, failing streaks, kept results."""

from __future__ import annotations

from typing import Any

import pytest

from berth.daemon.containers.health import go_duration, probe_command, record


def result(code: int, n: int = 0) -> dict[str, Any]:
    return {"Start": f"s{n}", "End": f"e{n}", "ExitCode": code, "Output": ""}


def test_probe_commands() -> None:
    assert probe_command({"Test": ["CMD", "curl", "-f", "http://x"]}) == ["curl", "-f", "http://x"]
    assert probe_command({"Test": ["CMD-SHELL", "test -e /ok"]}) == ["/bin/sh", "-c", "test -e /ok"]
    assert probe_command({"Test": ["NONE"]}) is None
    assert probe_command({}) is None
    assert probe_command(None) is None


def test_failures_count_in_a_row_up_to_the_retries() -> None:
    h: dict[str, Any] = {"Status": "starting", "FailingStreak": 0, "Log": []}
    assert record(h, result(1), retries=2, in_start_period=False) == "starting"
    assert h["FailingStreak"] == 1
    assert record(h, result(1), retries=2, in_start_period=False) == "unhealthy"
    assert record(h, result(0), retries=2, in_start_period=False) == "healthy"
    assert h["FailingStreak"] == 0
    assert record(h, result(1), retries=2, in_start_period=False) == "healthy"  # one failure is not enough
    assert record(h, result(-1), retries=2, in_start_period=False) == "unhealthy"  # a timeout fails too


def test_the_start_period_forgives_failures_of_a_starting_container_only() -> None:
    h: dict[str, Any] = {"Status": "starting", "FailingStreak": 0, "Log": []}
    for _ in range(5):
        assert record(h, result(1), retries=1, in_start_period=True) == "starting"
    assert h["FailingStreak"] == 0
    assert record(h, result(0), retries=1, in_start_period=True) == "healthy"
    assert record(h, result(1), retries=1, in_start_period=True) == "unhealthy"


def test_only_the_last_five_results_are_kept() -> None:
    h: dict[str, Any] = {"Status": "starting", "FailingStreak": 0, "Log": []}
    for n in range(8):
        record(h, result(0, n), retries=3, in_start_period=False)
    assert [r["Start"] for r in h["Log"]] == ["s3", "s4", "s5", "s6", "s7"]


@pytest.mark.parametrize(("ns", "text"), [
    (300_000_000, "300ms"), (1_500_000_000, "1.5s"), (30_000_000_000, "30s"), (120_000_000_000, "2m0s"),
    (3_600_000_000_000, "1h0m0s"), (250_000, "250µs"),
])
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text
