"""Pull/push benchmark: an ~80 MB image pushed to a loopback docker-registry by berthd, then pulled back.

Usage: .venv/bin/python -m bench.pull_push [--mb 80] [--layers 4]
The image is a Debian minbase made with debootstrap when it is installed (the mirror is read from the apt
sources at run time), else ~80 MB of this machine's /usr files in several layers. Prints wall times, MB/s,
and where the time goes (network+digest, decompression, digest alone, unpack), measured on the same blobs.
Where dockerd is installed, a sandboxed one (bench/dockerd.py; --no-dockerd or BENCH_DOCKERD=0 skips it) pulls,
pushes, saves and loads the same image from the same registry, in turns with berthd, so both meet the same disk
and machine state.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx

from bench.dockerd import sandboxed_dockerd, wanted
from tests.daemon_harness import DOCKER, running_daemon
from tests.e2e.registry_client.registries import running_registry

SOURCES = ("/usr/lib/python3", "/usr/share", "/usr/lib/x86_64-linux-gnu", "/usr/bin")


def _apt_mirror() -> str | None:
    """The first Debian mirror of the apt sources (read at run time, never stored)."""
    paths = ["/etc/apt/sources.list"] + [os.path.join("/etc/apt/sources.list.d", n)
                                          for n in sorted(os.listdir("/etc/apt/sources.list.d"))]
    for path in paths:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        for line in text.splitlines():
            parts = line.split()
            if line.startswith("deb ") and len(parts) > 1:
                return parts[1] if not parts[1].startswith("[") else parts[2]
            if line.startswith("URIs:") and len(parts) > 1 and "security" not in parts[1]:
                return parts[1]
    return None


def _debootstrap(tmp: str) -> str | None:
    tool = shutil.which("debootstrap")
    mirror = _apt_mirror()
    if not tool or not mirror:
        return None
    root = os.path.join(tmp, "rootfs")
    res = subprocess.run([tool, "--variant=minbase", "bookworm", root, mirror], capture_output=True)
    if res.returncode != 0:
        return None
    slim(root)
    return root


SLIMMED = ("var/cache/apt/archives", "var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/locale",
           "usr/share/man", "usr/share/info", "var/log")


def slim(root: str) -> None:
    """Trim a minbase as Debian's slim images are (apt's caches and lists, docs, locales, man pages): ~206 MB
    becomes the ~80 MB image the issue describes."""
    for rel in SLIMMED:
        top = os.path.join(root, rel)
        for name in os.listdir(top) if os.path.isdir(top) else []:
            path = os.path.join(top, name)
            if os.path.isdir(path) and not os.path.islink(path):
                if rel == "var/cache/apt" and name == "archives":
                    continue
                shutil.rmtree(path)
            else:
                os.unlink(path)


def _layer_from_host(budget: int, skip: set[str]) -> bytes:
    buf = io.BytesIO()
    used = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for top in SOURCES:
            for dirpath, _dirs, files in os.walk(top):
                for name in sorted(files):
                    path = os.path.join(dirpath, name)
                    if path in skip or not os.path.isfile(path) or os.path.islink(path):
                        continue
                    size = os.path.getsize(path)
                    if used + size > budget:
                        return _finish(tar, buf)
                    skip.add(path)
                    try:
                        tar.add(path, arcname=path.lstrip("/"), recursive=False)
                    except OSError:
                        continue
                    used += size
    return _finish(tar, buf)


def _finish(tar: tarfile.TarFile, buf: io.BytesIO) -> bytes:
    tar.close()
    return buf.getvalue()


def _rootfs_layers(root: str) -> list[bytes]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(root, arcname=".")
    return [buf.getvalue()]


def _oci_archive(layers: list[bytes]) -> bytes:
    def sha(b: bytes) -> str:
        return "sha256:" + hashlib.sha256(b).hexdigest()
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                      "config": {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": [sha(b) for b in layers]},
                      "history": [{"created_by": f"layer {i}"} for i in range(len(layers))]}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(cfg),
                                      "size": len(cfg)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(b),
                                       "size": len(b)} for b in layers]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest), "size": len(manifest),
        "annotations": {"io.containerd.image.name": "bench/big:1"}}]}).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index),
                           *[(f"blobs/sha256/{sha(b)[7:]}", b) for b in [cfg, manifest, *layers]]]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {res.stderr.decode()}")
    return dt


class _Figures:
    """Wall times per step over several rounds; printed as median (min-max) and MB/s of the median."""

    def __init__(self, total_mb: float) -> None:
        self.total_mb = total_mb
        self.times: dict[str, list[float]] = {}

    def add(self, label: str, dt: float) -> None:
        self.times.setdefault(label, []).append(dt)
        print(f"  {label:<40} {dt:7.2f} s", flush=True)

    def report(self) -> None:
        print(f"medians over rounds (MB/s of the {self.total_mb:.1f} MB uncompressed image):")
        for label, ts in self.times.items():
            med = statistics.median(ts)
            print(f"{label:<42} {med:7.2f} s   ({min(ts):.2f}-{max(ts):.2f}, n={len(ts)})"
                  f"   {self.total_mb / med:7.1f} MB/s")


def _breakdown(registry_url: str, repo: str, tag: str, tmp: str) -> None:
    """Re-fetch the pushed blobs and time each stage on its own."""
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    with httpx.Client(base_url=registry_url, timeout=120) as http:
        man = http.get(f"/v2/{repo}/manifests/{tag}", headers={"Accept": accept}).json()
        blobs = []
        t0 = time.perf_counter()
        for layer in man["layers"]:
            h = hashlib.sha256()
            data = bytearray()
            with http.stream("GET", f"/v2/{repo}/blobs/{layer['digest']}") as resp:
                for chunk in resp.iter_raw(1 << 17):
                    h.update(chunk)
                    data += chunk
            blobs.append(bytes(data))
        net = time.perf_counter() - t0
    comp_mb = sum(len(b) for b in blobs) / 1e6
    t0 = time.perf_counter()
    for b in blobs:
        hashlib.sha256(b).digest()
    digest_t = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = [zlib.decompressobj(wbits=31).decompress(b) for b in blobs]
    dec = time.perf_counter() - t0
    igzip = shutil.which("igzip")
    dec_isal = None
    if igzip:
        t0 = time.perf_counter()
        for b in blobs:
            subprocess.run([igzip, "-dc"], input=b, capture_output=True, check=True)
        dec_isal = time.perf_counter() - t0
    from berth.store.gzipper import gzip_blob
    comp: dict[str, float] = {}
    for label, env_value in (("igzip -1", "0"), ("zlib -1, 2 threads", "1")):
        if env_value == "0" and not igzip:
            continue
        os.environ["BERTH_DISABLE_IGZIP"] = env_value
        t0 = time.perf_counter()
        for p in plain:
            with tempfile.TemporaryFile(dir=tmp) as src, tempfile.TemporaryFile(dir=tmp) as out:
                src.write(p)
                src.seek(0)
                gzip_blob(src, out)
        comp[label] = time.perf_counter() - t0
    os.environ.pop("BERTH_DISABLE_IGZIP", None)
    t0 = time.perf_counter()
    for i, p in enumerate(plain):
        target = os.path.join(tmp, f"unpack{i}")
        os.makedirs(target)
        subprocess.run([sys.executable, "-m", "berth.store.unpack", target], input=p, check=True, capture_output=True,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    unpack = time.perf_counter() - t0
    print(f"  compressed size                  {comp_mb:7.1f} MB over {len(blobs)} layers")
    print(f"  network + sha256 (httpx, 1 conn) {net:7.2f} s")
    print(f"  sha256 alone                     {digest_t:7.2f} s")
    print(f"  gunzip (zlib, one thread)        {dec:7.2f} s")
    if dec_isal is not None:
        print(f"  gunzip (igzip, used when there)  {dec_isal:7.2f} s")
    for label, dt in comp.items():
        print(f"  push gzip: {label:<21} {dt:7.2f} s (incl. writing the input file)")
    print(f"  unpack (chroot'ed helper, plain) {unpack:7.2f} s")
    print("  (pull pipelines download, gunzip, diff-id hash and unpack; its wall is about the slowest stage)")


def _rmi_all(berth: list[str], env: dict[str, str]) -> None:
    ids = subprocess.run([*berth, "images", "-aq"], env=env, capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run([*berth, "rmi", "-f", *sorted(set(ids))], env=env, capture_output=True)


def _round(berth: list[str], env: dict[str, str], archive: str, tmp: str, figs: _Figures,
           settle: float = 0) -> tuple[str, str]:
    """One load, save, push, pull, push, save, load cycle on fresh registries; returns (registry url, ref).

    `settle`: seconds to wait before each step that creates the image's files (ext4 without a journal skips
    inodes deleted in the last 60-300 s when it allocates new ones, which makes a create right after an rmi of
    thousands of files several times slower)."""

    def pause() -> None:
        if settle:
            subprocess.run(["sync"], check=False)
            time.sleep(settle)

    with running_registry() as reg_a, running_registry() as reg_b:
        pause()
        figs.add("load (OCI archive, plain layers)", _run([*berth, "load", "-i", archive], env))
        out = os.path.join(tmp, "save1.tar")
        figs.add("save (loaded image, plain layers)", _run([*berth, "save", "-o", out, "bench/big:1"], env))
        os.unlink(out)
        ref_a, ref_b = f"{reg_a.host}/bench/big:1", f"{reg_b.host}/bench/big:1"
        subprocess.run([*berth, "tag", "bench/big:1", ref_a], env=env, check=True)
        figs.add("push (loaded image: gzip + upload)", _run([*berth, "push", ref_a], env))
        figs.add("push again (all layers exist)", _run([*berth, "push", ref_a], env))
        _rmi_all(berth, env)
        pause()
        figs.add("pull (nothing present)", _run([*berth, "pull", ref_a], env))
        figs.add("pull again (up to date)", _run([*berth, "pull", ref_a], env))
        subprocess.run([*berth, "tag", ref_a, ref_b], env=env, check=True)
        figs.add("push (pulled image) to an empty registry", _run([*berth, "push", ref_b], env))
        out = os.path.join(tmp, "save2.tar")
        figs.add("save (pulled image, gzip layers)", _run([*berth, "save", "-o", out, ref_a], env))
        _rmi_all(berth, env)
        pause()
        figs.add("load (that save)", _run([*berth, "load", "-i", out], env))
        os.unlink(out)
        _rmi_all(berth, env)
        return reg_a.url, ref_a


def _versus_dockerd(berth: list[str], env: dict[str, str], denv: dict[str, str], ref: str, rounds: int,
                    settle: float, tmp: str) -> None:
    """Pull (nothing present), push (to a new, empty registry), save and load with berthd and dockerd in turns."""
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        for who, cli_env, cli in (("berthd", env, berth), ("dockerd", denv, [DOCKER])):
            _rmi_all(cli, cli_env)
            if settle:
                subprocess.run(["sync"], check=False)
                time.sleep(settle)
            times.setdefault(f"{who} pull", []).append(_run([*cli, "pull", ref], cli_env))
            with running_registry() as empty:
                target = f"{empty.host}/bench/big:1"
                subprocess.run([*cli, "tag", ref, target], env=cli_env, check=True, capture_output=True)
                times.setdefault(f"{who} push (to an empty registry)", []).append(_run([*cli, "push", target], cli_env))
            saved = os.path.join(tmp, f"{who}-save.tar")
            times.setdefault(f"{who} save", []).append(_run([*cli, "save", "-o", saved, ref], cli_env))
            _rmi_all(cli, cli_env)
            times.setdefault(f"{who} load (that save)", []).append(_run([*cli, "load", "-i", saved], cli_env))
            os.unlink(saved)
            _rmi_all(cli, cli_env)
    print("berthd and dockerd in turns, same registry and image (median, min-max):")
    for label, ts in times.items():
        print(f"  {label:<40} {statistics.median(ts):7.2f} s   ({min(ts):.2f}-{max(ts):.2f}, n={len(ts)})")
    for step in ("pull", "push (to an empty registry)", "save", "load (that save)"):
        ratio = statistics.median(times[f"berthd {step}"]) / statistics.median(times[f"dockerd {step}"])
        print(f"  berthd / dockerd, {step:<30} {ratio:6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=80)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rootfs", help="use this directory as the image's root (skips debootstrap)")
    ap.add_argument("--no-breakdown", action="store_true")
    ap.add_argument("--no-dockerd", action="store_true", help="no comparison with a sandboxed dockerd")
    ap.add_argument("--settle", type=float, default=0, help="seconds to wait before each pull and load")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pp-", dir="/tmp") as tmp:
        root = args.rootfs or _debootstrap(tmp)
        if root:
            layers, source = _rootfs_layers(root), "debootstrap bookworm minbase"
        else:
            seen: set[str] = set()
            per = args.mb * 1_000_000 // args.layers
            layers, source = [_layer_from_host(per, seen) for _ in range(args.layers)], "host /usr files"
        total_mb = sum(len(b) for b in layers) / 1e6
        print(f"image: {source}, {len(layers)} layers, {total_mb:.1f} MB uncompressed")
        archive = os.path.join(tmp, "image.tar")
        with open(archive, "wb") as f:
            f.write(_oci_archive(layers))
        del layers
        figs = _Figures(total_mb)
        with running_daemon(debug=False) as d:
            env = d.env()
            berth = [sys.executable, "-m", "berth.cli.main"]
            for n in range(args.rounds):
                print(f"round {n + 1}:", flush=True)
                _round(berth, env, archive, tmp, figs, args.settle)
            figs.report()
            if not args.no_breakdown:
                with running_registry() as reg:
                    ref = f"{reg.host}/bench/big:1"
                    subprocess.run([*berth, "load", "-i", archive], env=env, check=True, capture_output=True)
                    subprocess.run([*berth, "tag", "bench/big:1", ref], env=env, check=True)
                    subprocess.run([*berth, "push", ref], env=env, check=True, capture_output=True)
                    print("where the time goes (same blobs, each stage alone, one thread):")
                    _breakdown(reg.url, "bench/big", "1", tmp)
                    with sandboxed_dockerd(wanted(args.no_dockerd)) as denv:
                        if denv is not None:
                            _versus_dockerd(berth, env, denv, ref, args.rounds, args.settle, tmp)

if __name__ == "__main__":
    main()
