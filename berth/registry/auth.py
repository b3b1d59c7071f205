"""Registry auth: htpasswd basic auth and bearer tokens (HS256 or RS256 JWTs from the built-in token endpoint)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import Any

from berth.registry.rsa import RsaKey, libtrust_key_id, load_private_key, spki_of_certificate

__all__ = ["Access", "BasicAuth", "Htpasswd", "TokenAuth", "parse_scopes"]


def _crypt(password: str, salt: str) -> str | None:
    """libxcrypt's crypt(3) (bcrypt `$2y$`, sha-crypt, md5-crypt), through the stdlib while it has it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:  # Python 3.13 dropped the module: no bcrypt without a dependency
            return None
    try:
        return crypt.crypt(password, salt)
    except OSError:
        return None


class Htpasswd:
    """Users from an htpasswd file (`htpasswd -B` bcrypt entries, also `{SHA}` and crypt(3) forms)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.users: dict[str, str] = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and ":" in line:
                    user, _, hashed = line.partition(":")
                    self.users[user] = hashed
        self._verified: set[bytes] = set()

    def check(self, user: str, password: str) -> bool:
        hashed = self.users.get(user)
        if hashed is None:
            return False
        memo = hashlib.sha256(f"{user}\0{password}\0{hashed}".encode()).digest()
        if memo in self._verified:  # bcrypt costs milliseconds: docker sends basic auth on every request
            return True
        if hashed.startswith("{SHA}"):
            want = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
            ok = hmac.compare_digest(want, hashed[5:])
        elif hashed.startswith("$"):
            out = _crypt(password, hashed)
            ok = out is not None and hmac.compare_digest(out, hashed)
        else:
            ok = False
        if ok:
            self._verified.add(memo)
        return ok


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        user, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


@dataclass(frozen=True, slots=True)
class Access:
    """What a request needs: `type:name:actions` as a token scope."""

    type: str
    name: str
    actions: tuple[str, ...]

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scopes(values: list[str]) -> list[Access]:
    """`repository:NAME:pull,push` scopes (several per value when separated by spaces)."""
    out = []
    for value in values:
        for item in value.split():
            type_, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            if type_ and name and actions:
                out.append(Access(type_, name, tuple(a for a in actions.split(",") if a)))
    return out


class BasicAuth:
    """htpasswd basic auth: every request needs valid credentials."""

    def __init__(self, users: Htpasswd, realm: str = "Berth Registry") -> None:
        self.users = users
        self.realm = realm

    def challenge(self, needed: list[Access], error: str = "") -> str:
        return f'Basic realm="{self.realm}"'

    def allowed(self, authorization: str | None, needed: list[Access]) -> tuple[bool, str]:
        creds = basic_credentials(authorization)
        if creds is None or not self.users.check(*creds):
            return False, ""
        return True, creds[0]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuth:
    """Bearer tokens: HS256 JWTs with distribution's claims (iss, sub, aud, exp, nbf, iat, jti, access)."""

    def __init__(self, users: Htpasswd | None, realm: str, service: str, issuer: str, key: bytes | None = None,
                 expires_in: int = 300, rsa_key: RsaKey | None = None) -> None:
        self.users = users
        self.realm = realm
        self.service = service
        self.issuer = issuer
        self.key = key or secrets.token_bytes(32)
        self.expires_in = expires_in
        self.rsa_key = rsa_key
        self.kid = libtrust_key_id(rsa_key.public_der()) if rsa_key else None
        self.alg = "RS256" if rsa_key else "HS256"

    @classmethod
    def from_key_file(cls, users: Htpasswd | None, realm: str, service: str, issuer: str, key_path: str | None,
                      cert_path: str | None = None) -> TokenAuth:
        """HS256 with a random key, or the key file's secret; RS256 when it holds an RSA private key (PEM).

        With `cert_path` the certificate must carry the key's public half (what a peer registry trusts).
        """
        if key_path is None:
            if cert_path:
                raise ValueError("--token-cert needs --token-key")
            return cls(users, realm, service, issuer)
        with open(key_path, "rb") as f:
            data = f.read().strip()
        if not data:
            raise ValueError(f"token key file {key_path} is empty")
        if b"PRIVATE KEY-----" not in data:
            return cls(users, realm, service, issuer, key=data)
        rsa_key = load_private_key(data.decode("ascii", "replace"))
        if cert_path:
            with open(cert_path, encoding="ascii", errors="replace") as f:
                if spki_of_certificate(f.read()) != rsa_key.public_der():
                    raise ValueError(f"{cert_path} does not hold the public key of {key_path}")
        return cls(users, realm, service, issuer, rsa_key=rsa_key)

    def _sign(self, signing: bytes) -> bytes:
        if self.rsa_key is not None:
            return self.rsa_key.sign(signing)
        return hmac.new(self.key, signing, hashlib.sha256).digest()

    def _signature_ok(self, signing: bytes, signature: bytes) -> bool:
        if self.rsa_key is not None:
            return self.rsa_key.verify(signing, signature)
        return hmac.compare_digest(hmac.new(self.key, signing, hashlib.sha256).digest(), signature)

    # -- the registry's side ----------------------------------------------------------------------
    def challenge(self, needed: list[Access], error: str = "") -> str:
        text = f'Bearer realm="{self.realm}",service="{self.service}"'
        if needed:
            text += ',scope="' + " ".join(a.scope() for a in needed) + '"'
        if error:
            text += f',error="{error}"'
        return text

    def allowed(self, authorization: str | None, needed: list[Access]) -> tuple[bool, str]:
        if not authorization or authorization[:7].lower() != "bearer ":
            return False, ""
        claims = self.verify(authorization[7:].strip())
        if claims is None:
            return False, ""
        granted: dict[tuple[str, str], set[str]] = {}
        for entry in claims.get("access") or []:
            if isinstance(entry, dict):
                key = (str(entry.get("type")), str(entry.get("name")))
                granted.setdefault(key, set()).update(str(a) for a in entry.get("actions") or [])
        for need in needed:
            have = granted.get((need.type, need.name), set())
            if "*" not in have and not set(need.actions) <= have:
                return False, str(claims.get("sub", ""))
        return True, str(claims.get("sub", ""))

    def verify(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_unb64(parts[0]))
            if header.get("alg") != self.alg or not self._signature_ok(f"{parts[0]}.{parts[1]}".encode(),
                                                                       _unb64(parts[2])):
                return None
            claims: dict[str, Any] = json.loads(_unb64(parts[1]))
        except (ValueError, binascii.Error, AttributeError):
            return None
        now = time.time()
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if claims.get("iss") != self.issuer or self.service not in auds:
            return None
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now:
            return None
        if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + 60:
            return None
        return claims

    # -- the token endpoint -----------------------------------------------------------------------
    def authenticate(self, authorization: str | None, form: dict[str, str] | None = None) -> str | None:
        """The account name ("" anonymous) or None when credentials were given and are wrong."""
        creds = basic_credentials(authorization)
        if creds is None and form and form.get("grant_type") == "password":
            creds = (form.get("username", ""), form.get("password", ""))
        if creds is None:
            return ""
        if self.users is None or not self.users.check(*creds):
            return None
        return creds[0]

    def issue(self, account: str, scopes: list[Access]) -> dict[str, Any]:
        """A token granting `scopes` to an authenticated account, nothing to an anonymous one."""
        now = int(time.time())
        access = [{"type": a.type, "name": a.name, "actions": list(a.actions)} for a in scopes] if account else []
        claims = {"iss": self.issuer, "sub": account, "aud": self.service, "exp": now + self.expires_in,
                  "nbf": now - 10, "iat": now, "jti": _b64(os.urandom(12)), "access": access}
        header = {"alg": self.alg, "typ": "JWT"}
        if self.kid:
            header["kid"] = self.kid
        signing = _b64(json.dumps(header, separators=(",", ":")).encode()) + "." + \
            _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(self._sign(signing.encode()))
        token = f"{signing}.{sig}"
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return {"token": token, "access_token": token, "expires_in": self.expires_in, "issued_at": issued}
