#!/usr/bin/env bash
# The README's first command: installs Berth, starts berthd, makes busybox:latest offline and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
sock=/run/berth/berth.sock
berth=.venv/bin/berth
if ! $berth version >/dev/null 2>&1; then
  mkdir -p /run/berth /var/log
  echo "starting berthd (log: /var/log/berthd.log)"
  setsid .venv/bin/berthd --pidfile /run/berth/berthd.pid --log-file /var/log/berthd.log </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 100); do [ -S "$sock" ] && $berth version >/dev/null 2>&1 && break; sleep 0.1; done
fi
if ! $berth image inspect busybox:latest >/dev/null 2>&1; then
  tarball=$(mktemp --suffix=.tar)
  scripts/mkbusybox.sh "$tarball"
  $berth import "$tarball" busybox:latest
  rm -f "$tarball"
fi
$berth run --rm busybox echo hello from berth
echo
echo "berthd is running on $sock. Try: $PWD/$berth run -it --rm busybox sh"
echo "or the docker CLI: DOCKER_HOST=unix://$sock docker ps"
