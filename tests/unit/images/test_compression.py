"""Layer stream decompression: every gzip member and zstd frame is read; plain tars pass through."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import pytest

from berth.store.compression import DecompressingReader, detect

DATA = bytes(range(256)) * 2000


def read_all(blob: bytes, n: int = 7000) -> bytes:
    r = DecompressingReader(io.BytesIO(blob))
    out = b""
    while chunk := r.read(n):
        out += chunk
    return out


@pytest.mark.parametrize(
    ("blob", "kind"),
    [
        (DATA, ""),
        (gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:]), "gzip"),
        (bz2.compress(DATA), "bzip2"),
        (lzma.compress(DATA), "xz"),
    ],
)
def test_streams_are_fully_decompressed(blob: bytes, kind: str) -> None:
    assert detect(blob[:6]) == kind
    assert read_all(blob) == DATA
    assert DecompressingReader(io.BytesIO(blob)).read() == DATA


def test_zstd_frames_are_all_read() -> None:
    zstandard = pytest.importorskip("zstandard")
    c = zstandard.ZstdCompressor()
    blob = c.compress(DATA[:5000]) + c.compress(DATA[5000:])
    assert detect(blob) == "zstd"
    assert read_all(blob) == DATA


@pytest.mark.parametrize("igzip", ["1", "0"])
def test_gzip_through_igzip_or_zlib_gives_the_same_bytes(igzip: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_DISABLE_IGZIP", "0" if igzip == "1" else "1")
    blob = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:])
    assert read_all(blob) == DATA
    with DecompressingReader(io.BytesIO(blob)) as r:
        assert r.read() == DATA
    with pytest.raises((ValueError, EOFError)):
        read_all(blob[: len(blob) // 2])


def test_an_error_of_the_source_reaches_the_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_DISABLE_IGZIP", "0")
    blob = gzip.compress(DATA)

    class Cut(io.BytesIO):
        def read(self, n: int | None = -1, /) -> bytes:
            if self.tell() > 100:
                raise ConnectionResetError("cut")
            return super().read(min(n or 100, 100))

    with pytest.raises(ConnectionResetError), DecompressingReader(Cut(blob)) as r:
        r.read()
