"""Flask decorators.

    lk = LatchkeyFlask(app, Latchkey(url, key))

    @app.get("/me")
    @session_required()
    def me(): return {"user": g.latchkey_session.user_id}

    @app.get("/api/orders")
    @token_required(scopes=["orders:read"])
    def orders(): return {"sub": g.latchkey_claims.subject}

Failures are answered by the decorator (401, 403, 429 with Retry-After, 503 with
Retry-After); latchkey unreachable is 503, never a session."""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Sequence, TypeVar

from flask import Flask, current_app, g, jsonify, request

from . import _web
from .client import Latchkey
from .errors import InvalidSession, LatchkeyError

F = TypeVar("F", bound=Callable[..., Any])


class LatchkeyFlask:
    def __init__(self, app: Optional[Flask] = None, client: Optional[Latchkey] = None) -> None:
        self.client = client
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if self.client is None:
            raise ValueError("LatchkeyFlask needs a client")
        app.extensions["latchkey"] = self.client


def _client() -> Latchkey:
    return current_app.extensions["latchkey"]


def _answer(e: LatchkeyError) -> Any:
    status, headers, body = _web.answer(e)
    resp = jsonify(body)
    resp.status_code = status
    resp.headers.update(headers)
    return resp


def session_required(*, optional: bool = False, touch: bool = True, csrf: bool = True) -> Callable[[F], F]:
    """Sets g.latchkey_session to the live Session of the request's session cookie; 401
    without one (or None when optional); 403 for unsafe cross-origin requests (csrf)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if csrf and _web.cross_origin(request.method, request.headers):
                resp = jsonify({"error": "cross_origin_request"})
                resp.status_code = 403
                return resp
            lk = _client()
            try:
                session = lk.validate_session(_web.session_token(request.headers, lk.cookie_name), touch=touch)
            except LatchkeyError as e:
                return _answer(e)
            if session is None and not optional:
                return _answer(InvalidSession(401, "invalid_session", "no live session"))
            g.latchkey_session = session
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def token_required(*, scopes: Sequence[str] = (), audience: Optional[str] = None, check_revocation: bool = False,
                   accept_oauth: bool = False) -> Callable[[F], F]:
    """Sets g.latchkey_claims to the verified Claims of the Bearer access token; 401 with
    WWW-Authenticate when missing or invalid, 403 insufficient_scope."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            token = _web.bearer_token(request.headers)
            if token is None:
                resp = jsonify({"error": "invalid_request"})
                resp.status_code = 401
                resp.headers["WWW-Authenticate"] = 'Bearer realm="api"'
                return resp
            try:
                g.latchkey_claims = _client().verify_access_token(
                    token, audience=audience, scopes=scopes, check_revocation=check_revocation,
                    accept_oauth=accept_oauth)
            except LatchkeyError as e:
                return _answer(e)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate
