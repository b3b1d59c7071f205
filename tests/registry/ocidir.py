"""Builds small OCI image layouts (a directory skopeo reads with `oci:DIR:TAG`) for the registry tests."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

__all__ = ["make_oci_dir", "random_layer"]


def _blob(root: str, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(root, "blobs", "sha256", digest)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def random_layer(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar layer holding `files`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_oci_dir(root: str, tag: str, layers: list[bytes]) -> str:
    """An OCI layout at `root` with one image tagged `tag`; returns the manifest digest."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    layer_descs = []
    diff_ids = []
    for data in layers:
        layer_descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", **_blob(root, data)})
        diff_ids.append("sha256:" + hashlib.sha256(data).hexdigest())
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json",
                   **_blob(root, json.dumps(config).encode())}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": layer_descs}
    manifest_desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                     **_blob(root, json.dumps(manifest).encode()),
                     "annotations": {"org.opencontainers.image.ref.name": tag}}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [manifest_desc]}, f)
    return str(manifest_desc["digest"])
