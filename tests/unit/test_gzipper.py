"""Push compression: igzip and the threaded zlib path both give deterministic, valid single-member gzip."""

from __future__ import annotations

import gzip
import io
import os
import tempfile

import pytest

from berth.oci import digest as dg
from berth.store import gzipper


@pytest.mark.parametrize("igzip", [True, False])
@pytest.mark.parametrize("size", [0, 10_000, 300_000])
def test_blobs_decompress_to_the_input_and_repeat_exactly(igzip: bool, size: int,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_DISABLE_IGZIP", "0" if igzip else "1")
    monkeypatch.setattr(gzipper, "BLOCK", 64 << 10)  # several blocks on the threaded path
    data = (os.urandom(20_000) + b"layer text " * 3000) * (size // 53_000 + 1)
    data = data[:size]
    outs = []
    with tempfile.TemporaryFile() as src:
        src.write(data)
        for _ in range(2):
            src.seek(0)
            out = io.BytesIO()
            digest, n = gzipper.gzip_blob(src, out)
            assert (digest, n) == (dg.sha256(out.getvalue()), len(out.getvalue()))
            outs.append(out.getvalue())
    assert outs[0] == outs[1]
    assert outs[0][:2] == b"\x1f\x8b"
    assert gzip.decompress(outs[0]) == data
