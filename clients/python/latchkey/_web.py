"""What the framework helpers share: reading credentials from a request, the CSRF origin
check, and the HTTP answer for each error."""

from __future__ import annotations

import urllib.parse
from typing import Dict, Mapping, Optional, Tuple

from .cookies import token_from_cookie_header
from .errors import Forbidden, InvalidToken, LatchkeyError, RateLimited, Unauthorized, Unavailable

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def session_token(headers: Mapping[str, str], cookie_name: str) -> Optional[str]:
    return token_from_cookie_header(headers.get("cookie"), cookie_name)


def bearer_token(headers: Mapping[str, str]) -> Optional[str]:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def cross_origin(method: str, headers: Mapping[str, str]) -> bool:
    """True when an unsafe request came from another origin (OWASP CSRF: verify the origin
    with standard headers): its Origin, else its Referer, names a host other than Host."""
    if method.upper() in SAFE_METHODS:
        return False
    source = headers.get("origin") or headers.get("referer")
    if not source:
        return False  # not a browser's cross-site form (SameSite covers the cookie)
    if source == "null":
        return True
    u = urllib.parse.urlsplit(source)
    return u.netloc.lower() != headers.get("host", "").lower()


def answer(e: LatchkeyError) -> Tuple[int, Dict[str, str], Dict[str, str]]:
    """(status, headers, body) for the app's own response to the failure `e`."""
    if isinstance(e, RateLimited):
        return 429, {"Retry-After": str(e.retry_after)}, {"error": e.error, "error_description": e.description}
    if isinstance(e, Unavailable):
        return 503, {"Retry-After": str(e.retry_after)}, {"error": "unavailable",
                                                         "error_description": "authentication is unavailable"}
    if isinstance(e, Forbidden):
        hdr = {"WWW-Authenticate": f'Bearer error="{e.error}"'} if e.error == "insufficient_scope" else {}
        return 403, hdr, {"error": e.error, "error_description": e.description}
    if isinstance(e, InvalidToken):
        return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, {"error": "invalid_token"}
    if isinstance(e, Unauthorized):
        return 401, {}, {"error": e.error}
    # Anything else from latchkey is this app's fault, not the user's: no detail leaks out.
    return 500, {}, {"error": "internal"}
