"""berthd entry point: parse flags, set up logging and the pidfile, run the composition root."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from berth import __version__, errdefs
from berth.daemon.config import DaemonConfig, parse_args

__all__ = ["main"]


def _setup_logging(cfg: DaemonConfig) -> None:
    handler: logging.Handler
    if cfg.log_file:
        os.makedirs(os.path.dirname(os.path.abspath(cfg.log_file)), exist_ok=True)
        handler = logging.FileHandler(cfg.log_file)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("time=%(asctime)s level=%(levelname)s msg=%(message)s module=%(name)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if cfg.debug else logging.INFO)


def _write_pidfile(path: str) -> None:
    if not path:
        return
    try:
        with open(path) as f:
            other = int(f.read().strip() or 0)
        if other and other != os.getpid() and os.path.exists(f"/proc/{other}"):
            with open(f"/proc/{other}/cmdline", "rb") as f:
                if b"berth" in f.read():
                    raise errdefs.Conflict(f"pid file found, ensure berthd is not running or delete {path}")
    except (FileNotFoundError, ValueError):
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(f"{os.getpid()}\n")


def main(argv: list[str] | None = None) -> int:
    try:
        cfg, want_version = parse_args(sys.argv[1:] if argv is None else argv)
    except errdefs.BerthError as exc:
        print(f"berthd: {exc}", file=sys.stderr)
        return 1
    if want_version:
        print(f"Berth version {__version__}")
        return 0
    if os.geteuid() != 0:
        print("berthd: must run as root", file=sys.stderr)
        return 1
    _setup_logging(cfg)
    try:
        _write_pidfile(cfg.pidfile)
    except errdefs.BerthError as exc:
        logging.getLogger(__name__).error("%s", exc)
        return 1
    from berth.daemon.wiring import run_daemon

    try:
        asyncio.run(run_daemon(cfg))
    except KeyboardInterrupt:
        pass
    except errdefs.BerthError as exc:
        logging.getLogger(__name__).error("%s", exc)
        return 1
    finally:
        if cfg.pidfile:
            try:
                os.unlink(cfg.pidfile)
            except FileNotFoundError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
