"""The Python client against a real latchkey and Redis: every capability, the typed errors,
and fail-closed behaviour when latchkey or its Redis cannot answer."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from latchkey import (BadRequest, Conflict, Forbidden, InvalidCredentials, InvalidGrant, InvalidToken, Latchkey,
                      OAuthError, PayloadTooLarge, RateLimited, Unauthorized, Unavailable, clear_session_cookie,
                      session_cookie, token_from_cookie_header)


# -- sessions -----------------------------------------------------------------------------------
def test_session_lifecycle(lk, user):
    s = lk.create_session(user, data={"role": "admin"}, device={"ua": "pytest"}, ip="203.0.113.9")
    assert s.token and s.user_id == user and s.version == 1 and s.evicted == []
    v = lk.validate_session(s.token)
    assert v.session_id == s.session_id and v.data == {"role": "admin"} and v.ip == "203.0.113.9"
    u = lk.update_session(s.token, {"role": "viewer"}, version=1)
    assert u.version == 2 and u.data == {"role": "viewer"}
    with pytest.raises(Conflict) as e:
        lk.update_session(s.token, {"role": "x"}, version=1)
    assert e.value.error == "version_conflict" and e.value.status == 409
    r = lk.rotate_session(s.token)
    assert r.token != s.token and r.session_id != s.session_id
    assert lk.validate_session(s.token) is None
    assert lk.validate_session(r.token).data == {"role": "viewer"}
    lk.destroy_session(r.token)
    assert lk.validate_session(r.token) is None
    lk.destroy_session(r.token)  # already gone: still fine


def test_validate_refuses_what_is_not_a_live_session(lk):
    for t in (None, "", "x", "A" * 47, "not a token at all", "\u00e9" * 47):
        assert lk.validate_session(t) is None


def test_list_revoke_one_and_logout_everywhere(lk, user):
    a, b, c = (lk.create_session(user, device={"n": i}) for i in range(3))
    listed = {s.session_id for s in lk.list_sessions(user)}
    assert listed == {a.session_id, b.session_id, c.session_id}
    assert lk.revoke_session(user, a.session_id) is True
    assert lk.revoke_session(user, a.session_id) is False
    assert lk.revoke_session("someone-else", b.session_id) is False
    assert lk.logout_everywhere(user, keep=c.session_id) == 1
    assert lk.validate_session(b.token) is None and lk.validate_session(c.token) is not None
    assert lk.logout_everywhere(user) == 1
    assert lk.list_sessions(user) == []


def test_user_ids_that_need_escaping_stay_in_their_path_segment(lk):
    user = "a/b?c#d %2F é"
    s = lk.create_session(user)
    assert [x.session_id for x in lk.list_sessions(user)] == [s.session_id]
    assert lk.list_sessions("a") == []
    assert lk.logout_everywhere(user) == 1


def test_cookie_mode_and_cookie_helpers(lk, user):
    s = lk.create_session(user, cookie=True, absolute_ttl=600)
    assert s.set_cookie.startswith(f"__Host-session={s.token}; ")
    for attr in ("Path=/", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=600"):
        assert attr in s.set_cookie
    assert token_from_cookie_header(f"a=b; __Host-session={s.token}; c=d") == s.token
    assert token_from_cookie_header('__Host-session="; x') is None
    assert token_from_cookie_header("__Host-session=short") is None
    own = session_cookie(s.token, max_age=60)
    assert own == f"__Host-session={s.token}; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax"
    assert "Max-Age=0" in clear_session_cookie()
    with pytest.raises(ValueError):
        session_cookie(s.token, max_age=60, secure=False)  # __Host- needs Secure
    with pytest.raises(ValueError):
        session_cookie("tok;en=" + "x" * 40, max_age=60, name="sid", secure=False)
    with pytest.raises(ValueError):
        session_cookie(s.token, max_age=60, name="bad name")


def test_malformed_and_oversize_input_is_a_clear_error_and_changes_nothing(lk_direct, user):
    lk = lk_direct
    with pytest.raises(BadRequest) as e:
        lk.create_session("bad\x01id")
    assert e.value.error == "invalid_request"
    with pytest.raises(BadRequest):
        lk.create_session(user, ip="not-an-ip")
    with pytest.raises(BadRequest):
        lk.create_session(user, idle_ttl=-5)
    with pytest.raises(PayloadTooLarge):
        lk.create_session(user, data={"blob": "x" * 20000})
    assert lk.list_sessions(user) == []


def test_a_wrong_admin_key_is_unauthorized(server):
    url, _, issuer = server
    bad = Latchkey(url, "wrong-key", issuer=issuer)
    with pytest.raises(Unauthorized) as e:
        bad.create_session("alice")
    assert e.value.status == 401
    with pytest.raises(ValueError):
        Latchkey(url, "key\r\nX-Injected: 1")
    with pytest.raises(ValueError):
        Latchkey("ftp://example", "k")


# -- tokens -------------------------------------------------------------------------------------
def test_tokens_verify_locally_and_on_the_server(lk, user):
    pair = lk.issue_tokens(user, claims={"tenant": "acme"}, scope="orders:read profile", audience="api")
    assert pair.token_type == "Bearer" and pair.refresh_token
    c = lk.verify_access_token(pair.access_token, audience="api", scopes=["orders:read"])
    assert c.subject == user and c["tenant"] == "acme" and c.scopes == ["orders:read", "profile"]
    assert lk.verify_access_token(pair.access_token, audience="api", check_revocation=True)["jti"] == c["jti"]
    with pytest.raises(Forbidden) as e:
        lk.verify_access_token(pair.access_token, audience="api", scopes=["orders:write"])
    assert e.value.error == "insufficient_scope"
    with pytest.raises(InvalidToken):
        lk.verify_access_token(pair.access_token)  # it has an audience: one must be asked for
    with pytest.raises(InvalidToken):
        lk.verify_access_token(pair.access_token, audience="other")


def test_the_issuer_is_learned_from_the_server_when_not_given(server, user):
    url, key, issuer = server
    lk = Latchkey(url, key)
    assert lk.verify_access_token(lk.issue_tokens(user).access_token)["iss"] == issuer
    wrong = Latchkey(url, key, issuer="https://someone-else.example")
    with pytest.raises(InvalidToken):
        wrong.verify_access_token(wrong.issue_tokens(user).access_token)


def test_tampered_and_malformed_tokens_are_refused_locally(lk, user):
    t = lk.issue_tokens(user).access_token
    h, p, s = t.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["sub"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    for bad in (f"{h}.{forged}.{s}", t[:-4] + "AAAA", "a.b.c", "", "x" * 20000,
                base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt","kid":"k"}').decode().rstrip("=")
                + "." + p + "."):
        with pytest.raises(InvalidToken):
            lk.verify_access_token(bad)
        with pytest.raises(InvalidToken):
            lk.verify_access_token(bad, check_revocation=True)


def test_revocation_is_seen_when_asked_for(lk, user):
    pair = lk.issue_tokens(user)
    assert lk.revoke_token(pair.access_token) is True
    assert lk.revoke_token(pair.access_token) is False
    lk.verify_access_token(pair.access_token)  # locally it still verifies until it expires
    with pytest.raises(InvalidToken):
        lk.verify_access_token(pair.access_token, check_revocation=True)


def test_refresh_rotates_and_reuse_revokes_the_family(lk, user):
    first = lk.issue_tokens(user)
    second = lk.refresh_tokens(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    time.sleep(0)  # the grace window returns the same pair to a concurrent retry
    assert lk.refresh_tokens(first.refresh_token).refresh_token == second.refresh_token
    third = lk.refresh_tokens(second.refresh_token)
    with pytest.raises(InvalidGrant):
        lk.refresh_tokens(first.refresh_token)  # older than the last one: reuse
    with pytest.raises(InvalidGrant):
        lk.refresh_tokens(third.refresh_token)  # the family is gone
    with pytest.raises(InvalidGrant):
        lk.refresh_tokens("A" * 47)


def test_revoke_user_tokens(lk, user):
    a, b = lk.issue_tokens(user), lk.issue_tokens(user)
    assert lk.revoke_user_tokens(user) == 2
    for p in (a, b):
        with pytest.raises(InvalidToken):
            lk.verify_access_token(p.access_token, check_revocation=True)


def test_token_families_are_listed_and_revoked_one_at_a_time(lk, user):
    a, b = lk.issue_tokens(user), lk.issue_tokens(user)
    families = lk.user_token_families(user)
    assert len(families) == 2
    assert a.refresh_token not in json.dumps(families) and b.refresh_token not in json.dumps(families)
    first = families[0]["family_id"]
    assert lk.revoke_token_family(user, first) is True
    assert lk.revoke_token_family(user, first) is False, "gone: not found"
    assert lk.revoke_token_family("someone-else-" + user, families[1]["family_id"]) is False, "not that user's"
    assert [f["family_id"] for f in lk.user_token_families(user)] == [families[1]["family_id"]]
    with pytest.raises(InvalidGrant):
        lk.refresh_tokens(a.refresh_token)
    assert lk.refresh_tokens(b.refresh_token).refresh_token


def test_oauth_clients_are_listed_in_pages_without_secrets(lk, lk_direct):
    made = [lk.create_oauth_client(grant_types=["client_credentials"], scope="read") for _ in range(3)]
    seen, after, pages = [], None, 0
    while True:
        page = lk.list_oauth_clients(limit=2, after=after)
        assert len(page["clients"]) <= 2
        seen += [c["client_id"] for c in page["clients"]]
        assert all("client_secret" not in c for c in page["clients"])
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert pages >= 2 and all(m["client_id"] in seen for m in made)
    with pytest.raises(BadRequest):  # beside Prism: its proxy refuses what the contract forbids
        lk_direct.list_oauth_clients(limit=0)


def test_security_events_and_their_summary(lk, lk_direct, user):
    for _ in range(4):  # below the lock (5): top_accounts lists the ten with the most failures
        lk.login_failure(user, "198.51.100.77")
    listed = lk.events(type="login_failure", user_id=user)["events"]
    assert len(listed) == 4 and all(e["type"] == "login_failure" for e in listed)
    summary = lk.events_summary()
    assert len(summary["failures_per_minute"]) == 60
    assert any(t["user_id"] == user and t["failures"] == 4 for t in summary["top_accounts"])
    with pytest.raises(BadRequest):
        lk_direct.events(type="no_such_type")


def test_a_new_signing_key_is_fetched_once_its_kid_is_seen(own_stack):
    s = own_stack
    lk = Latchkey(s.url, s.admin_key, issuer=s.url)
    lk.jwks.min_refetch = 0.0
    old = lk.issue_tokens("alice").access_token
    lk.verify_access_token(old)  # caches the JWKS
    subprocess.run([s.bin, "keys", "add", "--dir", str(s.dir / "secrets"), "--activate-in", "0"], check=True,
                   stdout=subprocess.DEVNULL)
    s.server.send_signal(1)  # SIGHUP: the server re-reads its rings
    for _ in range(100):
        new = lk.issue_tokens("alice").access_token
        if json.loads(base64.urlsafe_b64decode(new.split(".")[0] + "==="))["kid"] != \
                json.loads(base64.urlsafe_b64decode(old.split(".")[0] + "==="))["kid"]:
            break
        time.sleep(0.05)
    assert lk.verify_access_token(new).subject == "alice"
    assert lk.verify_access_token(old).subject == "alice"


def test_verification_is_never_valid_when_the_jwks_cannot_be_fetched():
    lk = Latchkey(f"http://127.0.0.1:{_closed_port()}", "k", timeout=0.5)
    token = ("eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0."
             "eyJzdWIiOiJhIn0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2ln")
    with pytest.raises(Unavailable):
        lk.verify_access_token(token)


# -- OAuth --------------------------------------------------------------------------------------
def test_oauth_code_flow_with_pkce_introspection_and_revocation(lk, user):
    app = lk.create_oauth_client(redirect_uris=["https://app.example/cb"], client_name="py",
                                 grant_types=["authorization_code", "refresh_token"], scope="read write")
    rs = lk.create_oauth_client(grant_types=["client_credentials"], scope="introspect")
    assert app["client_secret"] and lk.get_oauth_client(app["client_id"])["client_name"] == "py"
    assert "client_secret" not in lk.get_oauth_client(app["client_id"])
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    a = lk.authorize(user_id=user, client_id=app["client_id"], redirect_uri="https://app.example/cb",
                     scope="read", state="s1", code_challenge=challenge, code_challenge_method="S256")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(a.redirect_to).query)
    assert q["code"] == [a.code] and q["state"] == ["s1"]
    pair = lk.oauth_token({"grant_type": "authorization_code", "code": a.code, "code_verifier": verifier,
                           "redirect_uri": "https://app.example/cb"},
                          client_id=app["client_id"], client_secret=app["client_secret"])
    assert pair.scope == "read" and pair.refresh_token
    info = lk.introspect(pair.access_token, client_id=rs["client_id"], client_secret=rs["client_secret"])
    assert info["active"] is True and info["sub"] == user and info["client_id"] == app["client_id"]
    lk.revoke(pair.refresh_token, client_id=app["client_id"], client_secret=app["client_secret"])
    assert lk.introspect(pair.access_token, client_id=rs["client_id"],
                         client_secret=rs["client_secret"]) == {"active": False}
    with pytest.raises(InvalidGrant):  # a spent code
        lk.oauth_token({"grant_type": "authorization_code", "code": a.code, "code_verifier": verifier,
                        "redirect_uri": "https://app.example/cb"},
                       client_id=app["client_id"], client_secret=app["client_secret"])
    with pytest.raises(Unauthorized) as e:
        lk.oauth_token({"grant_type": "client_credentials"}, client_id=rs["client_id"], client_secret="wrong")
    assert e.value.error == "invalid_client"
    cc = lk.oauth_token({"grant_type": "client_credentials"}, client_id=rs["client_id"],
                        client_secret=rs["client_secret"])
    assert cc.refresh_token is None and cc.scope == "introspect"
    assert lk.delete_oauth_client(app["client_id"]) is True
    assert lk.delete_oauth_client(app["client_id"]) is False
    assert lk.get_oauth_client(app["client_id"]) is None


def test_authorization_errors_say_where_to_send_the_user(lk, user):
    app = lk.create_oauth_client(redirect_uris=["https://app.example/cb"], scope="read")
    with pytest.raises(OAuthError) as e:
        lk.authorize(user_id=user, client_id=app["client_id"], scope="admin", state="s",
                     code_challenge="A" * 43, code_challenge_method="S256")
    assert e.value.error == "invalid_scope" and e.value.redirect_to.startswith("https://app.example/cb?error=")
    with pytest.raises(OAuthError) as e:
        lk.authorize(user_id=user, client_id=app["client_id"], redirect_uri="https://evil.example/cb")
    assert e.value.redirect_to is None  # never a redirect to an unverified URI
    with pytest.raises(BadRequest):
        lk.create_oauth_client(redirect_uris=["http://not-loopback.example/cb"])


# -- rate limits and login protection -----------------------------------------------------------
def test_rate_limit_allows_then_denies_with_retry_after(lk, lk_direct):
    key = "ip:" + secrets.token_hex(4)
    results = [lk.check_rate_limit(key, limit=3, window=60) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert results[2].remaining == 0 and results[3].retry_after >= 1
    with pytest.raises(BadRequest):
        lk_direct.check_rate_limit(key, limit=0, window=60)
    with pytest.raises(BadRequest):
        lk_direct.check_rate_limit(key, policy="no-such-policy")


def test_login_flow_locks_after_five_wrong_passwords_and_unlock_clears_it(lk, user):
    calls = []

    def wrong() -> bool:
        calls.append(1)
        return False

    for i in range(5):
        with pytest.raises(InvalidCredentials) as e:
            lk.login_flow(user, "198.51.100.7", wrong)
        assert e.value.failures == i + 1 or e.value.locked
    assert e.value.locked and e.value.retry_after >= 1
    with pytest.raises(RateLimited) as locked:
        lk.login_flow(user, "198.51.100.7", lambda: True)
    assert locked.value.error == "account_locked" and locked.value.retry_after >= 1
    assert len(calls) == 5  # a locked account's password is never checked
    st = lk.lockout(user)
    assert st.locked and st.lockouts == 1
    lk.unlock(user)
    device = lk.login_flow(user, "198.51.100.7", lambda: True)
    assert len(device) == 47 and not lk.lockout(user).locked


def test_login_input_is_checked(lk_direct):
    lk = lk_direct
    with pytest.raises(BadRequest):
        lk.login_check("alice", "999.1.1.1")
    with pytest.raises(BadRequest):
        lk.login_check("", "192.0.2.1")


# -- fail closed --------------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_latchkey_is_unavailable_never_valid():
    lk = Latchkey(f"http://127.0.0.1:{_closed_port()}", "k", timeout=0.5)
    with pytest.raises(Unavailable) as e:
        lk.validate_session("A" * 47)
    assert e.value.error == "unreachable"
    assert lk.ready() is False


def test_a_latchkey_that_does_not_answer_times_out():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        lk = Latchkey(f"http://127.0.0.1:{srv.getsockname()[1]}", "k", timeout=0.3)
        start = time.monotonic()
        with pytest.raises(Unavailable) as e:
            lk.validate_session("A" * 47)
        assert e.value.error == "timeout"
        assert time.monotonic() - start < 5  # bounded, not a hang (generous: this is no benchmark)
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        srv.close()


def test_redis_down_is_unavailable_for_every_check(own_stack):
    s = own_stack
    lk = Latchkey(s.url, s.admin_key, issuer=s.url)
    sess = lk.create_session("alice")
    pair = lk.issue_tokens("alice")
    s.stop_redis()
    with pytest.raises(Unavailable) as e:
        lk.validate_session(sess.token)
    assert e.value.status == 503 and e.value.retry_after >= 1
    with pytest.raises(Unavailable):
        lk.verify_access_token(pair.access_token, check_revocation=True)
    with pytest.raises(Unavailable):
        lk.login_flow("alice", "192.0.2.1", lambda: True)
    with pytest.raises(Unavailable):
        lk.check_rate_limit("k", limit=5, window=60)
    assert lk.ready() is False
    # Local verification needs no Redis: the JWKS is cached or fetched from latchkey itself.
    assert lk.verify_access_token(pair.access_token).subject == "alice"
