#!/usr/bin/env bash
# Installs what Berth needs on a Debian 12 machine (as root): Debian packages, then a venv with Berth.
set -euo pipefail
cd "$(dirname "$0")/.."

# isal: igzip (ISA-L), Berth's fast gunzip/gzip for pulled and pushed layers (zlib is the fallback)
packages=(busybox-static tini runc iproute2 nftables procps git make python3 python3-venv python3-pip isal)
if [ "${BERTH_TEST_DEPS:-0}" = 1 ]; then
  # oracles and peers the tests compare with: Debian's registry, skopeo, htpasswd, openssl (a token server's
  # keys), libseccomp2 (the seccomp compiler's oracle), gcc + libc6-dev (the escape battery's static probe);
  # hyperfine and debootstrap for bench/
  packages+=(hyperfine skopeo docker-registry apache2-utils openssl libseccomp2 gcc libc6-dev debootstrap)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# The interpreter: Debian's python3.11 (built with PGO and LTO, libpython linked in: it starts ~2 ms sooner and
# runs ~25 % faster than a default pyenv build), else another real python3.11 binary (not pyenv's bash shim).
py=""
for cand in /usr/bin/python3.11 /root/.pyenv/versions/3.11.*/bin/python3.11 /usr/bin/python3; do
  if [ -x "$cand" ]; then py="$cand"; break; fi
done
[ -n "$py" ] || { echo "no python3.11 found" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
stamp=.venv/.berth-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
  # compat mode: a plain path in a .pth instead of setuptools' import-hook finder, which costs every
  # `berth` command ~15 ms of start-up (pathlib and friends)
  .venv/bin/pip install -q -e '.[dev]' --config-settings editable_mode=compat
  touch "$stamp"
fi
# Launchers for the commands started most often (berth, berth-runtime): `python -S` skips site and its .pth
# files (~7 ms a command) and the two paths site would add are set directly. pip's own scripts are replaced.
site_dir=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for entry in "berth berth.cli.main" "berth-runtime berth.runtime.cli"; do
  read -r name module <<<"$entry"
  printf '#!%s/.venv/bin/python -S\nimport sys\nsys.path[1:1] = ["%s", "%s"]\nfrom %s import main\nsys.exit(main())\n' \
    "$PWD" "$PWD" "$site_dir" "$module" >".venv/bin/$name.tmp"
  chmod 755 ".venv/bin/$name.tmp"
  mv ".venv/bin/$name.tmp" ".venv/bin/$name"
done
# Byte-compile Berth up front: every CLI command, shim and runtime is a fresh interpreter, and with
# PYTHONDONTWRITEBYTECODE set (or a read-only tree) each would compile its modules again (~10 ms a start).
.venv/bin/python -m compileall -q -j 0 berth >/dev/null || true
# The end-to-end tests drive berthd with the real docker CLI (28.x where installed), and also with Debian's
# 20.10 CLI (API 1.41, the old side of our version range): unpack that CLI alone from the docker.io package
# (never install the package: it would start dockerd). It stands in for the 28.x CLI where none is installed.
if [ "${BERTH_TEST_DEPS:-0}" = 1 ]; then
  if [ ! -x .test-tools/docker/usr/bin/docker ]; then
    mkdir -p .test-tools/docker
    (cd .test-tools && apt-get download docker.io >/dev/null && dpkg -x docker.io_*.deb docker && rm -f docker.io_*.deb)
  fi
fi
