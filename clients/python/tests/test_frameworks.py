"""latchkey.fastapi and latchkey.flask in real apps (the frameworks' test clients) against a
real latchkey: sessions from the cookie, tokens from Authorization, the answers for each
failure, the CSRF origin check, and 503 (never a session) when latchkey is unreachable."""

from __future__ import annotations

import socket

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from flask import Flask, g

from latchkey import Claims, Latchkey, Session
from latchkey.fastapi import install, require_session, require_token
from latchkey.flask import LatchkeyFlask, session_required, token_required


def fastapi_app(lk: Latchkey) -> TestClient:
    app = FastAPI()
    install(app, lk)

    @app.get("/me")
    def me(session: Session = Depends(require_session())):
        return {"user": session.user_id, "data": session.data}

    @app.get("/maybe")
    def maybe(session=Depends(require_session(optional=True))):
        return {"user": session.user_id if session else None}

    @app.post("/change")
    def change(session: Session = Depends(require_session())):
        return {"ok": True}

    @app.get("/api/orders")
    def orders(claims: Claims = Depends(require_token(scopes=["orders:read"]))):
        return {"sub": claims.subject}

    @app.get("/api/strict")
    def strict(claims: Claims = Depends(require_token(check_revocation=True))):
        return {"sub": claims.subject}

    return TestClient(app, base_url="http://testserver")


def flask_app(lk: Latchkey):
    app = Flask(__name__)
    LatchkeyFlask(app, lk)

    @app.get("/me")
    @session_required()
    def me():
        return {"user": g.latchkey_session.user_id, "data": g.latchkey_session.data}

    @app.get("/maybe")
    @session_required(optional=True)
    def maybe():
        return {"user": g.latchkey_session.user_id if g.latchkey_session else None}

    @app.post("/change")
    @session_required()
    def change():
        return {"ok": True}

    @app.get("/api/orders")
    @token_required(scopes=["orders:read"])
    def orders():
        return {"sub": g.latchkey_claims.subject}

    @app.get("/api/strict")
    @token_required(check_revocation=True)
    def strict():
        return {"sub": g.latchkey_claims.subject}

    # No cookie jar: Werkzeug's would replace the Cookie header each test sends.
    return app.test_client(use_cookies=False)


def body(r):
    data = r.json() if hasattr(r, "json") and callable(r.json) else r.get_json()
    return data.get("detail", data) if isinstance(data, dict) else data


@pytest.fixture(params=["fastapi", "flask"])
def make(request):
    return fastapi_app if request.param == "fastapi" else flask_app


def get(client, path, **kw):
    return client.get(path, **kw)


def test_session_from_the_cookie(make, lk, user):
    c = make(lk)
    s = lk.create_session(user, data={"plan": "pro"})
    r = c.get("/me", headers={"Cookie": f"__Host-session={s.token}"})
    assert r.status_code == 200 and body(r) == {"user": user, "data": {"plan": "pro"}}
    assert body(c.get("/maybe", headers={"Cookie": f"__Host-session={s.token}"})) == {"user": user}
    assert body(c.get("/maybe")) == {"user": None}
    for cookie in (None, "__Host-session=" + "A" * 47, "__Host-session=garbage", "other=" + s.token):
        r = c.get("/me", headers={"Cookie": cookie} if cookie else {})
        assert r.status_code == 401 and body(r)["error"] == "invalid_session"
    lk.destroy_session(s.token)
    assert c.get("/me", headers={"Cookie": f"__Host-session={s.token}"}).status_code == 401


def test_cross_origin_writes_are_refused(make, lk, user):
    c = make(lk)
    s = lk.create_session(user)
    cookie = {"Cookie": f"__Host-session={s.token}"}
    host = "testserver" if make is fastapi_app else "localhost"
    assert c.post("/change", headers={**cookie, "Origin": f"http://{host}"}).status_code == 200
    assert c.post("/change", headers=cookie).status_code == 200
    for origin in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                   {"Referer": "https://evil.example/form"}):
        r = c.post("/change", headers={**cookie, **origin})
        assert r.status_code == 403 and body(r)["error"] == "cross_origin_request"


def test_tokens_from_the_authorization_header(make, lk, user):
    c = make(lk)
    good = lk.issue_tokens(user, scope="orders:read").access_token
    narrow = lk.issue_tokens(user, scope="profile").access_token
    r = c.get("/api/orders", headers={"Authorization": f"Bearer {good}"})
    assert r.status_code == 200 and body(r) == {"sub": user}
    r = c.get("/api/orders", headers={"Authorization": f"Bearer {narrow}"})
    assert r.status_code == 403 and r.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
    for h in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        r = c.get("/api/orders", headers=h)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = c.get("/api/orders", headers={"Authorization": "Bearer " + good[:-3] + "AAA"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert c.get("/api/strict", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    lk.revoke_token(good)
    assert c.get("/api/strict", headers={"Authorization": f"Bearer {good}"}).status_code == 401


def test_latchkey_unreachable_is_503_never_a_session(make):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = make(Latchkey(f"http://127.0.0.1:{port}", "k", timeout=0.5))
    r = c.get("/me", headers={"Cookie": "__Host-session=" + "A" * 47})
    assert r.status_code == 503 and r.headers["Retry-After"] == "1" and body(r)["error"] == "unavailable"
    r = c.get("/maybe", headers={"Cookie": "__Host-session=" + "A" * 47})
    assert r.status_code == 503  # optional does not mean "anonymous when in doubt"
    r = c.get("/api/strict", headers={"Authorization": "Bearer a.b.c"})
    assert r.status_code in (401, 503) and r.status_code != 200
