"""The shim's wire format: frames, JSON lines, socket paths."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from berth.shim.protocol import (
    FRAME_EXIT,
    FRAME_STDIN,
    FRAME_STDOUT,
    MAX_FRAME,
    FrameDecoder,
    ProtocolError,
    decode_message,
    encode_frame,
    encode_message,
    short_socket_path,
)


def test_frame_layout_is_kind_then_big_endian_length() -> None:
    assert encode_frame(FRAME_STDOUT, b"hi") == b"\x01\x00\x00\x00\x02hi"
    assert encode_frame(FRAME_STDIN) == b"\x00\x00\x00\x00\x00"


def test_decoder_reassembles_frames_split_anywhere() -> None:
    parts = [(FRAME_STDOUT, b"hello"), (FRAME_STDIN, b""), (FRAME_EXIT, b"{}")]
    wire = b"".join(encode_frame(kind, payload) for kind, payload in parts)
    for cut in range(len(wire) + 1):
        dec = FrameDecoder()
        frames = dec.feed(wire[:cut]) + dec.feed(wire[cut:])
        assert frames == [(FRAME_STDOUT, b"hello"), (FRAME_STDIN, b""), (FRAME_EXIT, b"{}")]
        assert dec.pending == 0


def test_decoder_byte_by_byte_keeps_partial_frames() -> None:
    dec = FrameDecoder()
    wire = encode_frame(2, b"x" * 300)
    got = [f for b in wire for f in dec.feed(bytes([b]))]
    assert got == [(2, b"x" * 300)]


def test_oversized_frames_are_refused() -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(b"\x01" + (MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(ProtocolError):
        encode_frame(256, b"")


def test_messages_are_one_json_object_per_line() -> None:
    line = encode_message({"op": "kill", "signal": 9, "all": True})
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert decode_message(line) == {"op": "kill", "signal": 9, "all": True}
    for bad in (b"nope", b"[1]", b'"s"', b""):
        with pytest.raises(ProtocolError):
            decode_message(bad)


def test_short_socket_path_reaches_a_socket_in_a_deep_directory(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = str(deep / "shim.sock")
    arg, fd = short_socket_path(path)
    assert fd is not None
    assert len(arg) < 100
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(arg)
        server.listen(1)
        os.close(fd)
        assert os.path.exists(path)
        arg2, fd2 = short_socket_path(path)
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(arg2)
        assert fd2 is not None
        os.close(fd2)
    assert short_socket_path("/run/x.sock") == ("/run/x.sock", None)


@pytest.mark.parametrize("value", [
    {"op": "exec", "process": {"args": ["sh", "-c", "echo \"hi\"\n"], "env": [], "terminal": False,
                               "user": {"uid": 0, "gid": 0}}, "n": -1.5, "none": None},
    ["é", "\u2603", "\x00"], "plain", 42, [],
])
def test_minijson_round_trips_like_json(value: object) -> None:
    import json

    from berth.util import minijson

    assert minijson.loads(minijson.dumps(value)) == value
    assert json.loads(minijson.dumps(value)) == value
    assert minijson.loads(json.dumps(value, indent=2).encode()) == value
    assert minijson.dumps(value) == json.dumps(value, separators=(",", ":"))
    assert minijson.dumps(value, ascii_only=False) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("text", ["", "{", "{}x", "nul", '{"a":1,}', "[1 2]"])
def test_minijson_refuses_what_json_refuses(text: str) -> None:
    from berth.util import minijson

    with pytest.raises(ValueError):
        minijson.loads(text)
    with pytest.raises(TypeError):
        minijson.dumps({"x": object()})
