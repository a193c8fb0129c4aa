"""A small site on latchkey: a login form (passwords hashed here, with scrypt), latchkey
sessions in cookie mode, lockout and a per-IP rate limit on the login, "log out everywhere",
and an API route that accepts latchkey access tokens.

    LATCHKEY_URL=http://127.0.0.1:8080 LATCHKEY_ADMIN_KEY_FILE=var/secrets/admin_api_key \
      uvicorn app:app --port 8000
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import secrets

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from latchkey import (Claims, InvalidCredentials, Latchkey, RateLimited, Session, clear_session_cookie,
                      token_from_cookie_header)
from latchkey.fastapi import install, require_session, require_token

lk = Latchkey(os.environ.get("LATCHKEY_URL", "http://127.0.0.1:8080"),
              open(os.environ.get("LATCHKEY_ADMIN_KEY_FILE", "var/secrets/admin_api_key")).read().strip())
app = FastAPI()
install(app, lk)


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)


# The app's own user store (latchkey never sees passwords). One demo account.
_salt = secrets.token_bytes(16)
USERS = {"alice": (_salt, hash_password(os.environ.get("DEMO_PASSWORD", "correct horse"), _salt))}
_DUMMY = (_salt, hash_password(secrets.token_hex(8), _salt))  # same work for unknown names


def password_ok(user: str, password: str) -> bool:
    salt, stored = USERS.get(user, _DUMMY)
    return hmac.compare_digest(hash_password(password, salt), stored) and user in USERS


def page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><title>latchkey demo</title>{body}", status,
                        headers={"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'self'"})


FORM = ('<form method="post" action="/login"><input name="username" autocomplete="username">'
        '<input name="password" type="password" autocomplete="current-password"><button>Log in</button></form>')


@app.get("/")
def home(session: Session | None = Depends(require_session(optional=True))):
    if session is None:
        return page("<h1>Log in</h1>" + FORM)
    return page(f"<h1>Hello, {html.escape(session.user_id)}</h1>"
                '<form method="post" action="/logout"><button>Log out</button></form>'
                '<form method="post" action="/logout-everywhere"><button>Log out everywhere</button></form>')


@app.post("/login")
def login(request: Request, username: str = Form(..., max_length=256), password: str = Form(..., max_length=1024)):
    ip = request.client.host
    if not lk.check_rate_limit("login-ip:" + ip, limit=30, window=60).allowed:
        return page("<p>Too many login attempts from your address. Try again later.</p>", 429)
    try:
        lk.login_flow(username, ip, lambda: password_ok(username, password))
    except InvalidCredentials as e:
        msg = "Account locked for a while." if e.locked else "Wrong user name or password."
        return page(f"<p>{msg}</p>" + FORM, 401)
    except RateLimited as e:
        return page(f"<p>Account locked. Try again in {e.retry_after} s.</p>", 429)
    s = lk.create_session(username, ip=ip, device={"ua": request.headers.get("user-agent", "")[:200]}, cookie=True)
    r = RedirectResponse("/", 303)
    r.headers["Set-Cookie"] = s.set_cookie
    return r


@app.post("/logout")
def logout(request: Request, session: Session = Depends(require_session())):
    lk.destroy_session(token_from_cookie_header(request.headers.get("cookie"), lk.cookie_name))
    r = RedirectResponse("/", 303)
    r.headers["Set-Cookie"] = clear_session_cookie(name=lk.cookie_name)
    return r


@app.post("/logout-everywhere")
def logout_everywhere(session: Session = Depends(require_session())):
    lk.logout_everywhere(session.user_id)
    r = RedirectResponse("/", 303)
    r.headers["Set-Cookie"] = clear_session_cookie(name=lk.cookie_name)
    return r


@app.get("/api/profile")
def profile(claims: Claims = Depends(require_token(scopes=["profile"]))):
    return JSONResponse({"user": claims.subject, "scope": claims.scopes})
