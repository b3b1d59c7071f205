"""Logging drivers and their options as dockerd takes them (HostConfig.LogConfig)."""

from __future__ import annotations

from typing import Any

import pytest

from berth import errdefs
from berth.daemon.containers.logconfig import LogTarget, json_file_limits, log_target, validate


def hc(driver: str = "", **opts: str) -> dict[str, Any]:
    return {"LogConfig": {"Type": driver, "Config": opts}}


def test_json_file_limits_read_sizes_in_decimal_units() -> None:
    assert json_file_limits(hc()) == (-1, 1)
    assert json_file_limits(hc("json-file", **{"max-size": "10m", "max-file": "3"})) == (10_000_000, 3)
    assert json_file_limits(hc(**{"max-size": "1.5k"})) == (1500, 1)
    assert json_file_limits(hc(**{"max-size": "2KiB"})) == (2000, 1)
    assert json_file_limits({"LogConfig": None}) == (-1, 1)


def test_log_target_by_driver() -> None:
    assert log_target(hc(**{"max-size": "1k", "max-file": "2"}), "/c/c-json.log") == LogTarget("/c/c-json.log",
                                                                                                1000, 2)
    assert log_target(hc("none"), "/c/c-json.log") == LogTarget("")


@pytest.mark.parametrize(("config", "error", "text"), [
    (hc("syslog"), errdefs.InvalidParameter, "logger: no log driver named 'syslog' is registered"),
    (hc(foo="1"), errdefs.InvalidParameter, "unknown log opt 'foo' for json-file log driver"),
    (hc(**{"max-size": "abc"}), errdefs.InvalidParameter, "invalid size: 'abc'"),
    (hc(**{"max-size": "1q"}), errdefs.InvalidParameter, "invalid suffix: 'q'"),
    (hc(**{"max-size": "0"}), errdefs.InvalidParameter, "max-size must be a positive number"),
    (hc(**{"max-file": "0"}), errdefs.InvalidParameter, "max-file cannot be less than 1"),
    (hc(**{"max-file": "x"}), errdefs.InvalidParameter, 'strconv.Atoi: parsing "x": invalid syntax'),
    (hc(mode="fast"), errdefs.InvalidParameter,
     "logger: logger option 'mode' can only be one of \"blocking\" or \"non-blocking\""),
    (hc(compress="maybe"), errdefs.InvalidParameter, 'strconv.ParseBool: parsing "maybe": invalid syntax'),
    (hc(compress="true"), errdefs.InvalidParameter,
     "compress cannot be true when max-file is less than 2 or max-size is not set"),
    (hc(compress="true", **{"max-size": "1m", "max-file": "2"}), errdefs.NotImplementedErr,
     "the json-file log option compress=true is not supported by Berth"),
])
def test_what_is_refused_and_how(config: dict[str, Any], error: type[Exception], text: str) -> None:
    with pytest.raises(error) as err:
        validate(config)
    assert str(err.value) == text


def test_what_is_taken() -> None:
    for config in (hc(), hc("json-file", tag="{{.Name}}", labels="a", env="X", compress="false"), hc("none", x="y"),
                   hc(mode="non-blocking", **{"max-buffer-size": "4m", "max-size": "1k"})):
        validate(config)
