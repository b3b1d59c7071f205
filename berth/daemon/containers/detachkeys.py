"""Docker's detach key sequences (default ctrl-p,ctrl-q): parsing and detection in a byte stream."""

from __future__ import annotations

from berth import errdefs

__all__ = ["DEFAULT_DETACH_KEYS", "DetachScanner", "parse_detach_keys"]

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


def parse_detach_keys(spec: str) -> bytes:
    """`ctrl-p,ctrl-q` -> b"\\x10\\x11"; single characters stand for themselves."""
    out = bytearray()
    for key in spec.split(","):
        k = key.strip()
        if len(k) == 1:
            out.append(ord(k))
        elif k.lower().startswith("ctrl-") and len(k) == 6:
            c = k[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[c])
            else:
                raise errdefs.InvalidParameter(f"Unknown character: '{k}'")
        else:
            raise errdefs.InvalidParameter(f"Unknown character: '{k}'")
    return bytes(out)


class DetachScanner:
    """Feeds stdin bytes through; reports when the detach sequence was typed, holding back partial matches."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Returns (bytes to pass on, detached?)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for byte in data:
            candidate = self._held + bytes([byte])
            if self.keys.startswith(candidate):
                self._held = candidate
                if candidate == self.keys:
                    self._held = b""
                    return bytes(out), True
            else:
                out += candidate
                self._held = b""
        return bytes(out), False

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return held
