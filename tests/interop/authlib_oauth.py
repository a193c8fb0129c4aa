#!/usr/bin/python3
"""Drives latchkey's OAuth server with Authlib's stock client (Debian python3-authlib on
python3-requests), unmodified: the authorization code flow with PKCE S256 (latchkey's
/v1/oauth/authorizations plays the backend's login page), refresh with rotation,
client_credentials with client_secret_basic and client_secret_post, a public client,
introspection and revocation, endpoints taken from the RFC 8414 metadata.

usage: authlib_oauth.py BASE_URL ADMIN_KEY     prints "ok" and exits 0 when every step held
"""
import sys
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError

BASE, ADMIN = sys.argv[1], sys.argv[2]
ADMIN_HEADERS = {"Authorization": "Bearer " + ADMIN}
REDIRECT = "https://client.example/cb"


def check(cond, what):
    if not cond:
        print("FAILED: " + what)
        sys.exit(1)


def register(**metadata):
    r = requests.post(BASE + "/v1/oauth/clients", json=metadata, headers=ADMIN_HEADERS, timeout=10)
    check(r.status_code == 201, "register client: %s %s" % (r.status_code, r.text))
    return r.json()


def backend_authorizes(authorization_url, user_id):
    """What the backend's login page does: hands latchkey the request it received."""
    q = {k: v[0] for k, v in parse_qs(urlparse(authorization_url).query).items()}
    q["user_id"] = user_id
    r = requests.post(BASE + "/v1/oauth/authorizations", json=q, headers=ADMIN_HEADERS, timeout=10)
    check(r.status_code == 201, "authorization: %s %s" % (r.status_code, r.text))
    return r.json()["redirect_to"]


meta = requests.get(BASE + "/.well-known/oauth-authorization-server", timeout=10).json()
check(meta["code_challenge_methods_supported"] == ["S256"], "metadata lists S256 only")
TOKEN, INTROSPECT, REVOKE = meta["token_endpoint"], meta["introspection_endpoint"], meta["revocation_endpoint"]

# 1. Confidential client (client_secret_basic): code + PKCE, refresh, introspect, revoke.
c = register(client_name="authlib", redirect_uris=[REDIRECT], scope="read write",
             grant_types=["authorization_code", "refresh_token", "client_credentials"])
s = OAuth2Session(c["client_id"], c["client_secret"], scope="read", redirect_uri=REDIRECT,
                  code_challenge_method="S256")
verifier = generate_token(48)
url, state = s.create_authorization_url(BASE + "/authorize", code_verifier=verifier)
redirect_to = backend_authorizes(url, "alice")
check(parse_qs(urlparse(redirect_to).query)["state"] == [state], "state comes back")
token = s.fetch_token(TOKEN, authorization_response=redirect_to, code_verifier=verifier)
check(token["token_type"] == "Bearer" and "refresh_token" in token, "code redeemed: %r" % token)
check(token["scope"] == "read", "scope granted")

info = s.introspect_token(INTROSPECT, token=token["access_token"]).json()
check(info["active"] is True and info["sub"] == "alice" and info["client_id"] == c["client_id"], "introspection: %r" % info)

old_refresh = token["refresh_token"]
new = s.refresh_token(TOKEN, refresh_token=old_refresh)
check(new["refresh_token"] != old_refresh, "refresh rotates")
check(s.introspect_token(INTROSPECT, token=new["access_token"]).json()["active"] is True, "new access token active")

# The same code again: invalid_grant, and what it issued is revoked.
replay = requests.post(TOKEN, data={"grant_type": "authorization_code", "code": parse_qs(urlparse(redirect_to).query)["code"][0],
                                    "redirect_uri": REDIRECT, "code_verifier": verifier},
                       auth=(c["client_id"], c["client_secret"]), timeout=10)
check(replay.status_code == 400 and replay.json()["error"] == "invalid_grant", "replay refused: %s" % replay.text)
check(s.introspect_token(INTROSPECT, token=new["access_token"]).json() == {"active": False}, "replay revoked the grant")

# A fresh grant, revoked through RFC 7009.
url, state = s.create_authorization_url(BASE + "/authorize", code_verifier=verifier)
token = s.fetch_token(TOKEN, authorization_response=backend_authorizes(url, "alice"), code_verifier=verifier)
r = s.revoke_token(REVOKE, token=token["refresh_token"], token_type_hint="refresh_token")
check(r.status_code == 200, "revocation: %s" % r.status_code)
check(s.introspect_token(INTROSPECT, token=token["access_token"]).json() == {"active": False}, "revoked family's access token")
try:
    s.refresh_token(TOKEN, refresh_token=token["refresh_token"])
    check(False, "a revoked refresh token must fail")
except OAuthError as e:
    check(e.error == "invalid_grant", "revoked refresh token: " + e.error)

# Wrong verifier: invalid_grant, as an OAuthError in the library.
url, state = s.create_authorization_url(BASE + "/authorize", code_verifier=verifier)
try:
    s.fetch_token(TOKEN, authorization_response=backend_authorizes(url, "alice"), code_verifier=generate_token(48))
    check(False, "a wrong verifier must fail")
except OAuthError as e:
    check(e.error == "invalid_grant", "wrong verifier: " + e.error)

# 2. client_credentials, Basic and (for a client registered so) client_secret_post.
cc = OAuth2Session(c["client_id"], c["client_secret"], scope="write")
t = cc.fetch_token(TOKEN, grant_type="client_credentials")
check("refresh_token" not in t and t["scope"] == "write", "client_credentials: %r" % t)
p = register(client_name="post", grant_types=["client_credentials"], scope="read",
             token_endpoint_auth_method="client_secret_post")
ps = OAuth2Session(p["client_id"], p["client_secret"], token_endpoint_auth_method="client_secret_post")
t = ps.fetch_token(TOKEN, grant_type="client_credentials")
check(ps.introspect_token(INTROSPECT, token=t["access_token"]).json()["sub"] == p["client_id"], "client_secret_post")
try:
    OAuth2Session(c["client_id"], "wrong").fetch_token(TOKEN, grant_type="client_credentials")
    check(False, "a wrong secret must fail")
except OAuthError as e:
    check(e.error == "invalid_client", "wrong secret: " + e.error)

# 3. A public client (no secret, PKCE), refresh included.
pub = register(client_name="spa", redirect_uris=[REDIRECT], scope="read", token_endpoint_auth_method="none",
               grant_types=["authorization_code", "refresh_token"])
ss = OAuth2Session(pub["client_id"], redirect_uri=REDIRECT, code_challenge_method="S256",
                   token_endpoint_auth_method="none")
url, state = ss.create_authorization_url(BASE + "/authorize", code_verifier=verifier)
t = ss.fetch_token(TOKEN, authorization_response=backend_authorizes(url, "bob"), code_verifier=verifier)
t2 = ss.refresh_token(TOKEN, refresh_token=t["refresh_token"])
check(t2["access_token"] != t["access_token"], "public client refreshed")
check(s.introspect_token(INTROSPECT, token=t2["access_token"]).json()["sub"] == "bob", "resource server introspects")

print("ok")
