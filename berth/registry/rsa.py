"""RSA for RS256 tokens without a crypto dependency: PEM/DER key and certificate reading, PKCS#1 v1.5 sign/verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

__all__ = ["RsaKey", "libtrust_key_id", "load_private_key", "spki_of_certificate"]

# DigestInfo prefix of SHA-256 (RFC 8017 section 9.2, note 1)
_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def _pem_blocks(text: str) -> dict[str, bytes]:
    out = {}
    for m in re.finditer(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", text, re.S):
        out[m.group(1)] = base64.b64decode("".join(m.group(2).split()))
    return out


def _tlv(data: bytes, pos: int) -> tuple[int, int, int, int]:
    """(tag, start of value, end of value, start of element) of the DER element at `pos`."""
    tag = data[pos]
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[start:start + n], "big")
        start += n
    end = start + length
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, start, end, pos


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    out = []
    pos = start
    while pos < end:
        element = _tlv(data, pos)
        out.append(element)
        pos = element[2]
    return out


def _integers(data: bytes, start: int, end: int) -> list[int]:
    return [int.from_bytes(data[s:e], "big") for tag, s, e, _ in _children(data, start, end) if tag == 0x02]


@dataclass(frozen=True)
class RsaKey:
    n: int
    e: int
    d: int = 0
    p: int = 0
    q: int = 0

    @property
    def size(self) -> int:
        return (self.n.bit_length() + 7) // 8

    def public_der(self) -> bytes:
        """SubjectPublicKeyInfo DER of the key (what x509.MarshalPKIXPublicKey writes)."""
        def enc(tag: int, body: bytes) -> bytes:
            n = len(body)
            head = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + \
                n.to_bytes((n.bit_length() + 7) // 8, "big")
            return bytes([tag]) + head + body

        def integer(v: int) -> bytes:
            raw = v.to_bytes(v.bit_length() // 8 + 1, "big")
            return enc(0x02, raw)

        algo = enc(0x30, bytes.fromhex("06092a864886f70d010101") + b"\x05\x00")
        key = enc(0x30, integer(self.n) + integer(self.e))
        return enc(0x30, algo + enc(0x03, b"\x00" + key))

    def _encoded(self, message: bytes) -> bytes:
        digest = _SHA256_PREFIX + hashlib.sha256(message).digest()
        return b"\x00\x01" + b"\xff" * (self.size - len(digest) - 3) + b"\x00" + digest

    def sign(self, message: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-256 (CRT when the primes are known)."""
        m = int.from_bytes(self._encoded(message), "big")
        if self.p and self.q:
            s1 = pow(m, self.d % (self.p - 1), self.p)
            s2 = pow(m, self.d % (self.q - 1), self.q)
            s = s2 + self.q * ((pow(self.q, -1, self.p) * (s1 - s2)) % self.p)
        else:
            s = pow(m, self.d, self.n)
        return s.to_bytes(self.size, "big")

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != self.size:
            return False
        em = pow(int.from_bytes(signature, "big"), self.e, self.n).to_bytes(self.size, "big")
        return hmac.compare_digest(em, self._encoded(message))


def load_private_key(pem: str) -> RsaKey:
    """An RSA key from `BEGIN PRIVATE KEY` (PKCS#8, what openssl writes) or `BEGIN RSA PRIVATE KEY` (PKCS#1)."""
    blocks = _pem_blocks(pem)
    if "RSA PRIVATE KEY" in blocks:
        der = blocks["RSA PRIVATE KEY"]
    elif "PRIVATE KEY" in blocks:
        outer = blocks["PRIVATE KEY"]
        _, s, e, _ = _tlv(outer, 0)
        parts = _children(outer, s, e)
        if len(parts) < 3 or parts[2][0] != 0x04:
            raise ValueError("not a PKCS#8 private key")
        der = outer[parts[2][1]:parts[2][2]]
    else:
        raise ValueError("no RSA private key in PEM (EC keys are not supported)")
    _, s, e, _ = _tlv(der, 0)
    ints = _integers(der, s, e)
    if len(ints) < 6:
        raise ValueError("malformed RSA private key")
    return RsaKey(n=ints[1], e=ints[2], d=ints[3], p=ints[4], q=ints[5])


def spki_of_certificate(pem: str) -> bytes:
    """The SubjectPublicKeyInfo DER inside the first certificate of a PEM file."""
    der = _pem_blocks(pem).get("CERTIFICATE")
    if der is None:
        raise ValueError("no certificate in PEM")
    _, s, e, _ = _tlv(der, 0)
    tbs = _children(der, s, e)[0]
    fields = _children(der, tbs[1], tbs[2])
    if fields and fields[0][0] == 0xA0:  # explicit version
        fields = fields[1:]
    spki = fields[5]  # serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    return der[spki[3]:spki[2]]


def libtrust_key_id(spki_der: bytes) -> str:
    """docker/libtrust's key id (what distribution matches a token's `kid` against)."""
    b32 = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode()
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))
