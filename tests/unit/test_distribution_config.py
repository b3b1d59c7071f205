"""berthd's registry settings: flags and daemon.json keys as dockerd names them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berth import errdefs
from berth.daemon.config import parse_args


def test_registry_flags_and_file(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"insecure-registries": ["10.0.0.0/8"], "registry-mirrors": ["http://m:5000"],
                               "max-concurrent-downloads": 2}))
    conf, _ = parse_args(["--config-file", str(cfg), "--max-concurrent-uploads", "7"])
    assert conf.insecure_registries == ("10.0.0.0/8",)
    assert conf.registry_mirrors == ("http://m:5000",)
    assert (conf.max_concurrent_downloads, conf.max_concurrent_uploads) == (2, 7)
    conf, _ = parse_args(["--config-file", str(cfg), "--insecure-registry", "r:1", "--registry-mirror", "http://x"])
    assert conf.insecure_registries == ("r:1",)
    assert conf.registry_mirrors == ("http://x",)


def test_bad_limits_are_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.json"
    cfg.write_text("{}")
    with pytest.raises(errdefs.InvalidParameter, match="max-concurrent-downloads"):
        parse_args(["--config-file", str(cfg), "--max-concurrent-downloads", "0"])
