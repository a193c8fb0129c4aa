"""FastAPI dependencies.

    from latchkey.fastapi import install, require_session, require_token
    install(app, Latchkey(url, key))

    @app.get("/me")
    def me(session: Session = Depends(require_session())): ...

    @app.get("/api/orders")
    def orders(claims: Claims = Depends(require_token(scopes=["orders:read"]))): ...

The dependencies are plain functions: FastAPI runs them in its thread pool, so the blocking
client never stalls the event loop. Failures become HTTP answers (401, 403, 429 with
Retry-After, 503 with Retry-After); latchkey unreachable is 503, never a session."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from fastapi import FastAPI, HTTPException, Request

from . import _web
from .client import Latchkey
from .errors import InvalidSession, LatchkeyError
from .types import Claims, Session


def install(app: FastAPI, client: Latchkey) -> None:
    """Makes `client` the one the dependencies use (app.state.latchkey)."""
    app.state.latchkey = client


def _client(request: Request, client: Optional[Latchkey]) -> Latchkey:
    c = client or getattr(request.app.state, "latchkey", None)
    if c is None:
        raise RuntimeError("latchkey.fastapi: call install(app, client) or pass client=")
    return c


def _raise(e: LatchkeyError) -> None:
    status, headers, body = _web.answer(e)
    raise HTTPException(status, detail=body, headers=headers or None) from e


def require_session(*, optional: bool = False, touch: bool = True, csrf: bool = True,
                    client: Optional[Latchkey] = None) -> Callable[[Request], Optional[Session]]:
    """A dependency giving the live Session of the request's session cookie (the client's
    cookie_name). Without a live session: 401, or None when optional. csrf: unsafe methods
    from another origin are 403."""

    def dependency(request: Request) -> Optional[Session]:
        lk = _client(request, client)
        if csrf and _web.cross_origin(request.method, request.headers):
            raise HTTPException(403, detail={"error": "cross_origin_request"})
        token = _web.session_token(request.headers, lk.cookie_name)
        try:
            session = lk.validate_session(token, touch=touch)
        except LatchkeyError as e:
            _raise(e)
        if session is None and not optional:
            _raise(InvalidSession(401, "invalid_session", "no live session"))
        request.state.latchkey_session = session
        return session

    return dependency


def require_token(*, scopes: Sequence[str] = (), audience: Optional[str] = None, check_revocation: bool = False,
                  accept_oauth: bool = False, client: Optional[Latchkey] = None) -> Callable[[Request], Claims]:
    """A dependency giving the verified Claims of the request's `Authorization: Bearer` access
    token (locally from the JWKS, or on latchkey with check_revocation). 401 with
    WWW-Authenticate (RFC 6750) when missing or invalid, 403 insufficient_scope."""

    def dependency(request: Request) -> Claims:
        lk = _client(request, client)
        token = _web.bearer_token(request.headers)
        if token is None:
            raise HTTPException(401, detail={"error": "invalid_request"},
                                headers={"WWW-Authenticate": 'Bearer realm="api"'})
        try:
            claims = lk.verify_access_token(token, audience=audience, scopes=scopes,
                                            check_revocation=check_revocation, accept_oauth=accept_oauth)
        except LatchkeyError as e:
            _raise(e)
        request.state.latchkey_claims = claims
        return claims

    return dependency
