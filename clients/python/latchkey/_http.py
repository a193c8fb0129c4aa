"""The HTTP layer: one keep-alive connection per thread, a timeout on every call, typed errors.

Standard library only. A connection that latchkey closed while it sat idle is replaced before
use; a call is resent only when it is idempotent and failed before any answer arrived, so a
write whose outcome is unknown is never sent twice (it raises Unavailable instead)."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
import urllib.parse
from typing import Any, Mapping, Optional, Tuple, Union

from .errors import LatchkeyError, Unavailable, error_for

_IDLE_REUSE_SECONDS = 20.0  # well under latchkey's idle_timeout_ms (60 s)


class Response:
    __slots__ = ("status", "headers", "body", "raw")

    def __init__(self, status: int, headers: http.client.HTTPMessage, raw: bytes) -> None:
        self.status = status
        self.headers = headers
        self.raw = raw
        self.body: Any = None
        ctype = headers.get("Content-Type", "")
        if raw and ("json" in ctype):
            try:
                self.body = json.loads(raw)
            except ValueError as e:
                raise Unavailable("bad_response", f"latchkey answered {status} with malformed JSON") from e

    def header_all(self, name: str) -> list:
        return self.headers.get_all(name) or []


class Transport:
    def __init__(self, base_url: str, *, timeout: float, verify_tls: Union[bool, str],
                 user_agent: str) -> None:
        u = urllib.parse.urlsplit(base_url.rstrip("/"))
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port][/prefix], not {base_url!r}")
        if u.query or u.fragment or u.username:
            raise ValueError("base_url must not carry a query, fragment or user info")
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.prefix = u.path.rstrip("/")
        self.timeout = float(timeout)
        self.user_agent = user_agent
        self._tls: Optional[ssl.SSLContext] = None
        if u.scheme == "https":
            if verify_tls is False:
                ctx = ssl._create_unverified_context()  # noqa: S323 (explicitly asked for)
            else:
                ctx = ssl.create_default_context(cafile=verify_tls if isinstance(verify_tls, str) else None)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            self._tls = ctx
        self._local = threading.local()

    def _connection(self) -> Tuple[http.client.HTTPConnection, bool]:
        conn = getattr(self._local, "conn", None)
        last = getattr(self._local, "last", 0.0)
        if conn is not None and time.monotonic() - last < _IDLE_REUSE_SECONDS:
            return conn, True
        if conn is not None:
            conn.close()
        if self._tls is not None:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._tls)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self._local.conn = conn
        return conn, False

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def request(self, method: str, path: str, *, headers: Mapping[str, str],
                body: Optional[bytes] = None, idempotent: bool = False) -> Response:
        url = self.prefix + path
        hdrs = {"User-Agent": self.user_agent, "Accept": "application/json", **headers}
        for attempt in (0, 1):
            conn, reused = self._connection()
            try:
                conn.request(method, url, body=body, headers=hdrs)
                r = conn.getresponse()
                raw = r.read()
            except (socket.timeout, TimeoutError) as e:
                self._drop()
                raise Unavailable("timeout", f"latchkey did not answer within {self.timeout:g} s") from e
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                self._drop()
                if reused and attempt == 0 and idempotent:
                    continue  # a keep-alive connection closed while idle; nothing was processed twice
                raise Unavailable("unreachable", f"latchkey closed the connection: {e}") from e
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                raise Unavailable("unreachable", f"cannot reach latchkey at {self.host}:{self.port}: {e}") from e
            self._local.last = time.monotonic()
            if r.getheader("Connection", "").lower() == "close":
                self._drop()
            return Response(r.status, r.headers, raw)
        raise AssertionError("unreachable")


def check(resp: Response, *ok: int) -> Response:
    """resp when its status is one of ok, else the typed error."""
    if resp.status in ok:
        return resp
    body = resp.body if isinstance(resp.body, dict) else {}
    raise error_for(resp.status, body, resp.headers.get("Retry-After"))


def json_body(resp: Response) -> dict:
    if not isinstance(resp.body, dict):
        raise Unavailable("bad_response", f"latchkey answered {resp.status} without a JSON object")
    return resp.body


__all__ = ["Transport", "Response", "check", "json_body", "LatchkeyError"]
