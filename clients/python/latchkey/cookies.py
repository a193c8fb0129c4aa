"""Session cookies with secure defaults, for apps that set the cookie themselves (latchkey's
cookie mode, create_session(cookie=True), makes the same header on the server)."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import Optional

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def session_cookie(token: str, *, max_age: int, name: str = "__Host-session", secure: bool = True,
                   same_site: str = "Lax", path: str = "/") -> str:
    """A Set-Cookie value: HttpOnly always, Secure and SameSite=Lax by default, no Domain (the
    cookie stays with this host). The __Host- prefix needs Secure and Path=/ (RFC 6265bis)."""
    if not _NAME.match(name):
        raise ValueError(f"not a cookie name: {name!r}")
    if not _TOKEN.match(token):
        raise ValueError("not a latchkey token")
    if same_site not in ("Strict", "Lax", "None"):
        raise ValueError("same_site must be Strict, Lax or None")
    if name.startswith("__Host-") and (not secure or path != "/"):
        raise ValueError("a __Host- cookie must be Secure with Path=/")
    if same_site == "None" and not secure:
        raise ValueError("SameSite=None needs Secure")
    parts = [f"{name}={token}", f"Path={path}", f"Max-Age={max(0, int(max_age))}", "HttpOnly"]
    if secure:
        parts.append("Secure")
    parts.append(f"SameSite={same_site}")
    return "; ".join(parts)


def clear_session_cookie(*, name: str = "__Host-session", secure: bool = True, same_site: str = "Lax") -> str:
    """A Set-Cookie value that deletes the session cookie."""
    parts = [f"{name}=", "Path=/", "Max-Age=0", "HttpOnly"] + (["Secure"] if secure else []) + [f"SameSite={same_site}"]
    return "; ".join(parts)


def token_from_cookie_header(cookie_header: Optional[str], name: str = "__Host-session") -> Optional[str]:
    """The session token from a request's Cookie header, or None (also for a malformed one)."""
    if not cookie_header:
        return None
    c: SimpleCookie = SimpleCookie()
    try:
        c.load(cookie_header)
    except Exception:  # http.cookies raises CookieError and, on odd input, others
        return None
    m = c.get(name)
    return m.value if m is not None and _TOKEN.match(m.value) else None
