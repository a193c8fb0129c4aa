"""Local access-token verification from latchkey's JWKS (PyJWT, Debian's python3-jwt).

The key set is cached for `ttl` seconds and fetched again at once when a token names a kid
the cache does not hold (a new signing key), at most once every `min_refetch` seconds, so a
flood of tokens with made-up kids cannot turn into a flood of JWKS requests. When latchkey is
unreachable the cached keys keep verifying; a kid that is not cached is then Unavailable,
never accepted. The checks are latchkey's own (docs/api.md, POST /v1/tokens/verify)."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import jwt
from jwt import PyJWK

from .errors import InvalidToken, LatchkeyError, Unavailable
from .types import Claims

_ALLOWED_ALGS = {"EdDSA", "ES256", "RS256"}
_REFUSED_HEADERS = ("jku", "jwk", "x5u", "x5c", "crit")


class JwksVerifier:
    def __init__(self, fetch: Callable[[], Dict[str, Any]], *, issuer: Union[str, Callable[[], str]], ttl: float = 300.0,
                 min_refetch: float = 10.0, leeway: int = 30) -> None:
        self._fetch = fetch
        self._issuer = issuer  # or a function that learns it (once)
        self.ttl = ttl
        self.min_refetch = min_refetch
        self.leeway = leeway
        self._keys: Dict[str, Tuple[str, PyJWK]] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self, *, forced: bool) -> None:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if (forced and age < self.min_refetch) or (not forced and age < self.ttl):
                return
            try:
                jwks = self._fetch()
            except Unavailable:
                if not self._keys:
                    raise
                self._fetched_at = time.monotonic() - self.ttl + self.min_refetch  # retry soon
                return
            keys: Dict[str, Tuple[str, PyJWK]] = {}
            for k in jwks.get("keys", []):
                if k.get("use", "sig") == "sig" and k.get("kid") and k.get("alg") in _ALLOWED_ALGS:
                    try:
                        keys[k["kid"]] = (k["alg"], PyJWK(k, algorithm=k["alg"]))
                    except jwt.PyJWTError:
                        continue  # a key this PyJWT cannot use verifies nothing
            self._keys = keys
            self._fetched_at = time.monotonic()

    @property
    def issuer(self) -> str:
        if callable(self._issuer):
            self._issuer = self._issuer()
        return self._issuer

    def key_for(self, kid: str) -> Optional[Tuple[str, PyJWK]]:
        self._refresh(forced=False)
        key = self._keys.get(kid)
        if key is None:
            self._refresh(forced=True)
            key = self._keys.get(kid)
        return key

    def verify(self, token: str, *, audience: Optional[str] = None,
               accept_oauth: bool = False) -> Claims:
        if not isinstance(token, str) or not token or len(token) > 16384:
            raise InvalidToken(401, "invalid_token", "not a token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise InvalidToken(401, "invalid_token", f"malformed token: {e}") from e
        if any(h in header for h in _REFUSED_HEADERS):
            raise InvalidToken(401, "invalid_token", "refused header parameter")
        if header.get("typ") not in ("at+jwt", "application/at+jwt"):
            raise InvalidToken(401, "invalid_token", "typ is not at+jwt")
        kid, alg = header.get("kid"), header.get("alg")
        if not isinstance(kid, str) or alg not in _ALLOWED_ALGS:
            raise InvalidToken(401, "invalid_token", "no usable kid or alg")
        entry = self.key_for(kid)
        if entry is None:
            raise InvalidToken(401, "invalid_token", "unknown kid")
        key_alg, key = entry
        if key_alg != alg:
            raise InvalidToken(401, "invalid_token", "alg does not match the key")
        try:
            claims = jwt.decode(token, key.key, algorithms=[alg], issuer=self.issuer, leeway=self.leeway,
                                options={"require": ["sub", "jti", "exp", "iat", "iss"],
                                         "verify_aud": False})
        except jwt.PyJWTError as e:
            raise InvalidToken(401, "invalid_token", str(e)) from e
        _check_audience(claims.get("aud"), audience)
        if "client_id" in claims and not accept_oauth:
            raise InvalidToken(401, "invalid_token", "an OAuth access token (accept_oauth not set)")
        return Claims(claims)


def _check_audience(aud: Any, wanted: Optional[str]) -> None:
    if aud is None:
        if wanted is not None:
            raise InvalidToken(401, "invalid_token", "token has no audience")
        return
    auds: Sequence[Any] = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else [None]
    if not all(isinstance(a, str) for a in auds):
        raise InvalidToken(401, "invalid_token", "aud is not a string or an array of strings")
    if wanted is None or wanted not in auds:
        raise InvalidToken(401, "invalid_token", "audience mismatch")


__all__ = ["JwksVerifier", "LatchkeyError"]
