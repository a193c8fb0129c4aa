#!/usr/bin/python3
"""The request corpus of the OpenAPI conformance run (tests/openapi/conformance.sh): every
documented operation, and every status the document names that a single server can be made
to answer, sent through Prism's validating proxy. Each answer must have the expected status
and no response violation (Prism's `sl-violations` header); a request the corpus means to be
valid must have no request violation either (malformed requests, sent on purpose, do).
Usage: corpus.py PROXY_URL ADMIN_KEY REDIS_PORT [OPENAPI_YAML [SECOND_PROXY_URL]]"""
import base64
import hashlib
import http.client
import json
import subprocess
import sys
import urllib.parse

proxy, admin_key, redis_port = sys.argv[1], sys.argv[2], sys.argv[3]
READ_ONLY_KEY = "conformance-read-only-key-0123456789abcdef"  # a read: key of conformance.sh's first server
host = urllib.parse.urlsplit(proxy)
ADMIN = {"Authorization": "Bearer " + admin_key}
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
failures = []
seen = set()  # (METHOD, path template, status) answered
recorded = {}  # (METHOD, path template) -> (path, headers, body) of a valid request answered < 400


def call(name, method, path, template, expect, body=None, headers=None, valid=True):
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    data = body if isinstance(body, (bytes, type(None))) else (body if isinstance(body, str) else json.dumps(body))
    if isinstance(data, str):
        data = data.encode()
    conn.request(method, path, body=data, headers=headers or {})
    r = conn.getresponse()
    text = r.read().decode("utf-8", "replace")
    violations = json.loads(r.getheader("sl-violations") or "[]")
    conn.close()
    for v in violations:
        where = (v.get("location") or ["?"])[0]
        if where == "response" or (valid and where == "request"):
            failures.append(f"{name}: {method} {path}: {where} violates the document: {v.get('message')} "
                            f"at {'.'.join(map(str, v.get('location', [])))}")
    if r.status != expect:
        failures.append(f"{name}: {method} {path}: status {r.status}, expected {expect}: {text[:200]}")
    seen.add((method, template, r.status))
    if valid and r.status < 400 and (method, template) not in recorded:
        recorded[(method, template)] = (path, dict(headers or {}), body)
    try:
        return r.status, json.loads(text) if text else None, r
    except json.JSONDecodeError:
        return r.status, text, r


def admin(name, method, path, template, expect, body=None, headers=None, valid=True):
    h = dict(ADMIN)
    if body is not None and not isinstance(body, bytes):
        h.update(JSON)
    h.update(headers or {})
    return call(name, method, path, template, expect, body, h, valid)


# Operations.
call("liveness", "GET", "/healthz", "/healthz", 200)
call("readiness", "GET", "/readyz", "/readyz", 200)
call("metrics", "GET", "/metrics", "/metrics", 200)
call("openapi", "GET", "/openapi.json", "/openapi.json", 200)
admin("server", "GET", "/v1/server", "/v1/server", 200)
call("server without key", "GET", "/v1/server", "/v1/server", 401, valid=False)
admin("reload", "POST", "/v1/server/reload", "/v1/server/reload", 200)

# Sessions.
S = "/v1/sessions"
_, created, _ = admin("create", "POST", S, S, 201, {"user_id": "alice", "data": {"role": "admin"}, "ip": "203.0.113.9"})
token = created["token"]
admin("create with a cookie", "POST", S, S, 201, {"user_id": "alice", "cookie": True})
admin("create: unknown field", "POST", S, S, 400, {"user_id": "bob", "colour": "red"}, valid=False)
admin("create: too large", "POST", S, S, 413, {"user_id": "bob", "data": {"x": "y" * 5000}}, valid=False)
admin("create: not JSON", "POST", S, S, 415, b"user_id=bob", {"Content-Type": "text/plain"}, valid=False)
call("create without key", "POST", S, S, 401, {"user_id": "bob"}, JSON, valid=False)
V = "/v1/sessions/validate"
admin("validate", "POST", V, V, 200, {"token": token, "touch": False})
admin("validate: unknown token", "POST", V, V, 401, {"token": "A" * 47})
admin("validate: token not a string", "POST", V, V, 400, {"token": 7}, valid=False)
C = "/v1/sessions/current"
_, view, _ = admin("current", "GET", C, C, 200, headers={"X-Session-Token": token})
admin("current: none", "GET", C, C, 401)
admin("update", "PATCH", C, C, 200, {"data": {"role": "user"}, "version": view["version"]}, {"X-Session-Token": token})
admin("update: stale version", "PATCH", C, C, 409, {"data": {}, "version": view["version"]}, {"X-Session-Token": token})
R = "/v1/sessions/current/rotate"
_, rotated, _ = admin("rotate", "POST", R, R, 200, headers={"X-Session-Token": token})
admin("rotate: gone", "POST", R, R, 401, headers={"X-Session-Token": token})
token = rotated["token"]
U = "/v1/users/{user_id}/sessions"
_, listed, _ = admin("list", "GET", "/v1/users/alice/sessions", U, 200)
one = listed["sessions"][0]["session_id"]
UD = "/v1/users/{user_id}/sessions/{session_id}"
admin("delete one", "DELETE", f"/v1/users/alice/sessions/{one}", UD, 204)
admin("delete one: gone", "DELETE", f"/v1/users/alice/sessions/{one}", UD, 404)
admin("logout everywhere", "DELETE", "/v1/users/alice/sessions", U, 200)
_, again, _ = admin("create again", "POST", S, S, 201, {"user_id": "carol"})
admin("logout", "DELETE", C, C, 204, headers={"X-Session-Token": again["token"]})
admin("logout: no token", "DELETE", C, C, 401)

# Tokens.
T = "/v1/tokens"
_, pair, _ = admin("issue", "POST", T, T, 200, {"user_id": "dave", "scope": "read", "claims": {"tier": "gold"}})
admin("issue: reserved claim", "POST", T, T, 400, {"user_id": "dave", "claims": {"sub": "x"}})
TV = "/v1/tokens/verify"
admin("verify", "POST", TV, TV, 200, {"token": pair["access_token"]})
admin("verify: garbage", "POST", TV, TV, 401, {"token": "a.b.c"})
TR = "/v1/tokens/refresh"
_, pair2, _ = admin("refresh", "POST", TR, TR, 200, {"refresh_token": pair["refresh_token"]})
admin("refresh: unknown", "POST", TR, TR, 401, {"refresh_token": "B" * 47})
TK = "/v1/tokens/revoke"
admin("revoke", "POST", TK, TK, 200, {"token": pair2["access_token"]})
admin("revoke: missing token", "POST", TK, TK, 400, {}, valid=False)
_, dave_fams, _ = admin("dave's token families", "GET", "/v1/users/dave/tokens", "/v1/users/{user_id}/tokens", 200)
admin("token families: bad user", "GET", "/v1/users/%00/tokens", "/v1/users/{user_id}/tokens", 400)
UTF = "/v1/users/{user_id}/tokens/{family_id}"
admin("revoke a token family", "DELETE", "/v1/users/dave/tokens/" + dave_fams["families"][0]["family_id"], UTF, 204)
admin("revoke a token family: unknown", "DELETE", "/v1/users/dave/tokens/" + "A" * 22, UTF, 404)
admin("revoke a token family: bad user", "DELETE", "/v1/users/%00/tokens/" + "A" * 22, UTF, 400)
admin("revoke a user's tokens", "DELETE", "/v1/users/dave/tokens", "/v1/users/{user_id}/tokens", 200)
call("jwks", "GET", "/.well-known/jwks.json", "/.well-known/jwks.json", 200)

# OAuth.
OC = "/v1/oauth/clients"
_, client, _ = admin("register", "POST", OC, OC, 201, {
    "client_name": "Shop", "redirect_uris": ["https://shop.example/cb"],
    "grant_types": ["authorization_code", "refresh_token", "client_credentials"], "scope": "openid email read write"})
admin("register: bad redirect", "POST", OC, OC, 400, {"redirect_uris": ["ftp://x"]})
cid, secret = client["client_id"], client["client_secret"]
OCI = "/v1/oauth/clients/{client_id}"
admin("get client", "GET", f"{OC}/{cid}", OCI, 200)
admin("get client: unknown", "GET", f"{OC}/nope", OCI, 404)
admin("list clients", "GET", OC + "?limit=5", OC, 200)
admin("list clients: bad cursor", "GET", OC + "?after=nope", OC, 400, valid=False)
verifier = "v" * 50
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
OA = "/v1/oauth/authorizations"
authz = {"client_id": cid, "redirect_uri": "https://shop.example/cb", "response_type": "code", "scope": "read",
         "state": "s1", "code_challenge": challenge, "code_challenge_method": "S256", "user_id": "erin"}
_, code, _ = admin("authorize", "POST", OA, OA, 201, authz)
admin("authorize: bad scope", "POST", OA, OA, 400, dict(authz, scope="admin"))
basic = {"Authorization": "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()}
client_form = dict(FORM, **basic)
OT = "/oauth2/token"
form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code["code"],
                               "redirect_uri": "https://shop.example/cb", "code_verifier": verifier})
_, tokens, _ = call("token: code", "POST", OT, OT, 200, form, client_form)
call("token: replay", "POST", OT, OT, 400, form, client_form)
call("token: client credentials", "POST", OT, OT, 200, "grant_type=client_credentials", client_form)
call("token: unsupported grant", "POST", OT, OT, 400, "grant_type=password", client_form)
call("token: bad client", "POST", OT, OT, 401, "grant_type=client_credentials",
     dict(FORM, Authorization="Basic " + base64.b64encode(b"x:y").decode()))
OI = "/oauth2/introspect"
_, cc, _ = call("token: client credentials again", "POST", OT, OT, 200, "grant_type=client_credentials", client_form)
call("introspect: active", "POST", OI, OI, 200, "token=" + cc["access_token"], client_form)
call("introspect: inactive", "POST", OI, OI, 200, "token=nothing", client_form)
call("introspect: no client", "POST", OI, OI, 401, "token=nothing", FORM)
ORV = "/oauth2/revoke"
call("revoke (RFC 7009)", "POST", ORV, ORV, 200, "token=" + cc["access_token"], client_form)
call("revoke: no client", "POST", ORV, ORV, 401, "token=x", FORM)
call("metadata", "GET", "/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server", 200)
OD = "/.well-known/openid-configuration"
call("openid configuration", "GET", OD, OD, 200)
# OpenID Connect: a login with claims, its ID token, userinfo.
_, oidc_code, _ = admin("authorize: openid", "POST", OA, OA, 201, dict(
    authz, scope="openid email", nonce="n1", auth_time=1700000000, acr="urn:x", amr=["pwd"],
    claims={"email": "erin@example.com", "email_verified": True, "name": "Erin"}))
_, oidc_tokens, _ = call("token: openid code", "POST", OT, OT, 200, urllib.parse.urlencode({
    "grant_type": "authorization_code", "code": oidc_code["code"], "redirect_uri": "https://shop.example/cb",
    "code_verifier": verifier}), client_form)
if "id_token" not in (oidc_tokens or {}):
    failures.append("token: openid code: no id_token")
UI = "/oauth2/userinfo"
bearer = {"Authorization": "Bearer " + oidc_tokens["access_token"]}
call("userinfo", "GET", UI, UI, 200, None, bearer)
call("userinfo: POST", "POST", UI, UI, 200, None, bearer)
call("userinfo: POST form", "POST", UI, UI, 200, "access_token=" + oidc_tokens["access_token"], FORM)
call("userinfo: no token", "GET", UI, UI, 401, None, {}, valid=False)
call("userinfo: POST, bad token", "POST", UI, UI, 401, None, {"Authorization": "Bearer nope"}, valid=False)
call("userinfo: POST, another scheme", "POST", UI, UI, 400, None, {"Authorization": "Basic eDp5"}, valid=False)
call("userinfo: bad token", "GET", UI, UI, 401, None, {"Authorization": "Bearer nope"}, valid=False)
call("userinfo: token in the URL", "GET", UI + "?access_token=x", UI, 400, None, {}, valid=False)
_, own, _ = call("token: client credentials for userinfo", "POST", OT, OT, 200, "grant_type=client_credentials",
                 client_form)
call("userinfo: no openid", "GET", UI, UI, 403, None, {"Authorization": "Bearer " + own["access_token"]})
call("userinfo: POST, no openid", "POST", UI, UI, 403, None, {"Authorization": "Bearer " + own["access_token"]})
admin("authorize: login too old", "POST", OA, OA, 400, dict(authz, auth_time=1700000000, max_age=60))
admin("delete client", "DELETE", f"{OC}/{cid}", OCI, 204)
admin("delete client: gone", "DELETE", f"{OC}/{cid}", OCI, 404)

# Rate limits.
RL = "/v1/ratelimit/check"
limit = {"key": "ip:198.51.100.7", "algorithm": "fixed_window", "limit": 1, "window": 60}
admin("ratelimit: allowed", "POST", RL, RL, 200, limit)
admin("ratelimit: denied", "POST", RL, RL, 429, limit)
admin("ratelimit: unknown algorithm", "POST", RL, RL, 400, dict(limit, algorithm="magic"), valid=False)

# Login protection.
login = {"user_id": "frank", "ip": "192.0.2.44"}
admin("login check", "POST", "/v1/logins/check", "/v1/logins/check", 200, login)
admin("login check: bad ip", "POST", "/v1/logins/check", "/v1/logins/check", 400, dict(login, ip="nope"))
for i in range(5):
    admin(f"login failure {i + 1}", "POST", "/v1/logins/failure", "/v1/logins/failure", 200, login)
admin("login check: locked", "POST", "/v1/logins/check", "/v1/logins/check", 429, login)
LO = "/v1/users/{user_id}/lockout"
admin("lockout", "GET", "/v1/users/frank/lockout", LO, 200)
admin("unlock", "DELETE", "/v1/users/frank/lockout", LO, 204)
admin("login success", "POST", "/v1/logins/success", "/v1/logins/success", 200, login)

# Security events (the failures above are among them).
EV = "/v1/events"
admin("events", "GET", EV + "?user_id=frank&limit=10", EV, 200)
admin("events: bad limit", "GET", EV + "?limit=0", EV, 400, valid=False)
admin("events summary", "GET", EV + "/summary", EV + "/summary", 200)

# The second server (reject_new with a limit of 1, the OAuth endpoints throttled to 2 a
# minute per address, no https issuer): 409, 429 and 404.
if len(sys.argv) > 5:
    first_host = host
    host = urllib.parse.urlsplit(sys.argv[5])
    admin("create: the first", "POST", S, S, 201, {"user_id": "ivy"})
    admin("create: over the limit", "POST", S, S, 409, {"user_id": "ivy"})
    call("metadata: no https issuer", "GET", "/.well-known/oauth-authorization-server",
         "/.well-known/oauth-authorization-server", 404)
    call("openid configuration: no https issuer", "GET", OD, OD, 404)
    for i in range(2):
        call(f"token: within the throttle {i + 1}", "POST", OT, OT, 401, "grant_type=client_credentials", FORM,
             valid=False)
    call("token: throttled", "POST", OT, OT, 429, "grant_type=client_credentials", FORM, valid=False)
    call("introspect: throttled", "POST", OI, OI, 429, "token=x", FORM, valid=False)
    call("revoke: throttled", "POST", ORV, ORV, 429, "token=x", FORM, valid=False)
    host = first_host

# Malformed requests each route refuses with 400. (Not a user id that is not UTF-8: Prism
# drops the connection on %FF in a path.)
for tmpl, method in (("/v1/users/{user_id}/lockout", "GET"), ("/v1/users/{user_id}/lockout", "DELETE"),
                     ("/v1/users/{user_id}/sessions", "GET"), ("/v1/users/{user_id}/sessions", "DELETE"),
                     ("/v1/users/{user_id}/tokens", "DELETE")):
    admin(f"{tmpl}: user id too long", method, tmpl.replace("{user_id}", "a" * 300), tmpl, 400, valid=False)
_, fresh, _ = admin("create for a bad update", "POST", S, S, 201, {"user_id": "hank"})
admin("update: data not an object", "PATCH", C, C, 400, {"data": 1, "version": 1}, {"X-Session-Token": fresh["token"]},
      valid=False)
admin("refresh: no token", "POST", TR, TR, 400, {}, valid=False)
admin("verify: token not a string", "POST", TV, TV, 400, {"token": 1}, valid=False)
admin("login failure: bad ip", "POST", "/v1/logins/failure", "/v1/logins/failure", 400, dict(login, ip="x"))
admin("login success: bad ip", "POST", "/v1/logins/success", "/v1/logins/success", 400, dict(login, ip="x"))
_, other, _ = admin("register another", "POST", OC, OC, 201, {"redirect_uris": ["https://b.example/cb"]})
other_form = dict(FORM, Authorization="Basic " + base64.b64encode(
    f"{other['client_id']}:{other['client_secret']}".encode()).decode())
call("introspect: repeated parameter", "POST", OI, OI, 400, "token=a&token=b", other_form)
call("revoke: repeated parameter", "POST", ORV, ORV, 400, "token=a&token=b", other_form)

# The statuses every route of a kind documents, from the document itself: each operation's
# recorded valid request again without the admin key (401), with a body that is not JSON
# (415), with a body over max_body_bytes (413), and with Redis gone (503).
with open(sys.argv[4] if len(sys.argv) > 4 else "docs/openapi.yaml", encoding="utf-8") as f:
    import yaml
    doc = yaml.safe_load(f)
operations = {(m.upper(), p): op for p, item in doc["paths"].items() for m, op in item.items()
              if m in ("get", "post", "patch", "delete", "put")}
for (method, template), op in sorted(operations.items()):
    if (method, template) not in recorded:
        failures.append(f"{method} {template}: no valid request in the corpus")
        continue
    path, headers, body = recorded[(method, template)]
    statuses = op.get("responses", {})
    admin_op = op.get("security", doc.get("security")) == [{"adminKey": []}]
    if admin_op and "401" in statuses:
        call(f"{template} without the key", method, path, template, 401, body,
             {k: v for k, v in headers.items() if k != "Authorization"}, valid=False)
    if admin_op and "403" in statuses:
        call(f"{template} with a read-only key", method, path, template, 403, body,
             dict(headers, Authorization="Bearer " + READ_ONLY_KEY), valid=False)
    if "415" in statuses:
        call(f"{template} not JSON", method, path, template, 415, "x", dict(headers, **{"Content-Type": "text/plain"}),
             valid=False)
    if "413" in statuses:
        big = dict(headers)
        big.setdefault("Content-Type", "application/json")
        payload = '{"x":"' + "y" * 5000 + '"}' if big["Content-Type"] == "application/json" else "x=" + "y" * 5000
        call(f"{template} too large", method, path, template, 413, payload, big, valid=False)

subprocess.run(["redis-cli", "-p", redis_port, "shutdown", "nosave"], capture_output=True)
for (method, template), op in sorted(operations.items()):
    if "503" in op.get("responses", {}) and (method, template) in recorded:
        path, headers, body = recorded[(method, template)]
        call(f"{template} without Redis", method, path, template, 503, body, headers)

documented = {(m, t, int(code)) for (m, t), op in operations.items() for code in op.get("responses", {})}
missing = sorted(documented - seen)
print(f"conformance: {len(documented - set(missing))} of {len(documented)} documented (operation, status) pairs "
      f"answered; not provoked here: " + (", ".join(f"{m} {t} {c}" for m, t, c in missing) or "none"))

for f in failures:
    print("conformance:", f)
print(f"conformance: {len(seen)} (operation, status) pairs answered through Prism, {len(failures)} failures")
sys.exit(1 if failures else 0)
