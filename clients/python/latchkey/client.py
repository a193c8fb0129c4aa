"""The synchronous latchkey client: every capability of the HTTP API (docs/api.md)."""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from . import __version__
from ._http import Response, Transport, check, json_body
from .errors import (Forbidden, InvalidCredentials, InvalidSession, InvalidToken, LatchkeyError,
                     OAuthError, RateLimited, Unavailable)
from .jwks import JwksVerifier
from .types import (Authorization, Claims, Lockout, LoginFailure, RateLimitResult, Session, SessionInfo,
                    TokenPair)

_UNSET: Any = object()


def _query(params: Mapping[str, Any]) -> str:
    kept = {k: str(v) for k, v in params.items() if v is not None}
    return "?" + urllib.parse.urlencode(kept) if kept else ""


def _q(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _drop_none(d: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


class Latchkey:
    """A client for one latchkey server.

    base_url   the admin listener (`admin_listen`, or `listen` when they are one), e.g.
               "http://127.0.0.1:8080"
    api_key    an admin API key (`admin_api_keys` / `admin_api_keys_file`)
    public_url the listener serving /oauth2/* and /.well-known/* when it differs
    timeout    seconds for each call (connect, send, answer); beyond it: Unavailable
    issuer     latchkey's `token_issuer`, checked by local verification (default: read once
               from GET /v1/server)
    cookie_name the session cookie the framework helpers read (latchkey's session_cookie_name)
    verify_tls True, False, or the path of a CA bundle for https URLs
    """

    def __init__(self, base_url: str, api_key: str, *, public_url: Optional[str] = None,
                 timeout: float = 2.0, issuer: Optional[str] = None, jwks_ttl: float = 300.0,
                 cookie_name: str = "__Host-session", verify_tls: Union[bool, str] = True) -> None:
        if not api_key or any(c in api_key for c in "\r\n"):
            raise ValueError("api_key must be a non-empty single line")
        ua = f"latchkey-python/{__version__}"
        self._admin = Transport(base_url, timeout=timeout, verify_tls=verify_tls, user_agent=ua)
        self._public = (Transport(public_url, timeout=timeout, verify_tls=verify_tls, user_agent=ua)
                        if public_url else self._admin)
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self.cookie_name = cookie_name
        self.jwks = JwksVerifier(self._fetch_jwks, issuer=issuer or self._server_issuer, ttl=jwks_ttl)

    # -- plumbing -------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Optional[Mapping[str, Any]] = None, *,
              ok: Sequence[int] = (200,), headers: Optional[Mapping[str, str]] = None,
              idempotent: bool = False) -> Response:
        hdrs = dict(self._auth)
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        resp = self._admin.request(method, path, headers=hdrs, body=data,
                                   idempotent=idempotent or method in ("GET", "DELETE"))
        return check(resp, *ok)

    def _form(self, path: str, form: Mapping[str, Optional[str]], *, client_id: str,
              client_secret: Optional[str], ok: Sequence[int] = (200,)) -> Response:
        fields = _drop_none(form)
        hdrs = {"Content-Type": "application/x-www-form-urlencoded"}
        if client_secret is None:
            fields["client_id"] = client_id  # a public client identifies in the body
        else:  # RFC 6749 2.3.1: both form-encoded, then Basic
            pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(client_secret, safe='')}"
            hdrs["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        data = urllib.parse.urlencode(fields).encode()
        return check(self._public.request("POST", path, headers=hdrs, body=data), *ok)

    def _server_issuer(self) -> str:
        return str(self.server()["token_issuer"])

    def _fetch_jwks(self) -> Dict[str, Any]:
        return json_body(check(self._public.request("GET", "/.well-known/jwks.json", headers={},
                                                    idempotent=True), 200))

    # -- operations -----------------------------------------------------------------------------
    def ready(self) -> bool:
        """GET /readyz: True when latchkey reaches Redis (never raises for a 503)."""
        try:
            return self._admin.request("GET", "/readyz", headers={}, idempotent=True).status == 200
        except Unavailable:
            return False

    def server(self) -> Dict[str, Any]:
        return json_body(self._call("GET", "/v1/server"))

    # -- sessions -------------------------------------------------------------------------------
    def create_session(self, user_id: str, *, data: Optional[Mapping[str, Any]] = None,
                       device: Optional[Mapping[str, Any]] = None, ip: Optional[str] = None,
                       idle_ttl: Optional[int] = None, absolute_ttl: Optional[int] = None,
                       cookie: bool = False) -> Session:
        """POST /v1/sessions. With cookie=True latchkey also makes the Set-Cookie header
        (its session_cookie_* options), returned as Session.set_cookie for the app to relay."""
        body = _drop_none({"user_id": user_id, "data": data, "device": device, "ip": ip,
                           "idle_ttl": idle_ttl, "absolute_ttl": absolute_ttl})
        if cookie:
            body["cookie"] = True
        r = self._call("POST", "/v1/sessions", body, ok=(201,))
        return Session.of(json_body(r), r.headers.get("Set-Cookie"))

    def validate_session(self, token: Optional[str], *, touch: bool = True) -> Optional[Session]:
        """The session of `token`, or None when it is not a live session. Raises Unavailable
        when latchkey cannot answer: never a session it did not confirm."""
        if not token:
            return None
        try:
            return Session.of(json_body(self._call("POST", "/v1/sessions/validate",
                                                   {"token": token, "touch": touch}, idempotent=True)))
        except InvalidSession:
            return None
        except LatchkeyError as e:
            if e.status == 400:  # not even the shape of a token
                return None
            raise

    def update_session(self, token: str, data: Mapping[str, Any], *, version: int) -> Session:
        """PATCH /v1/sessions/current: replaces data when `version` is current (else Conflict)."""
        return Session.of(json_body(self._call("PATCH", "/v1/sessions/current", {"data": data, "version": version},
                                               headers={"X-Session-Token": token})))

    def rotate_session(self, token: str) -> Session:
        """A new token for the same session (after a privilege change); the old one stops."""
        return Session.of(json_body(self._call("POST", "/v1/sessions/current/rotate",
                                               headers={"X-Session-Token": token})))

    def destroy_session(self, token: str) -> None:
        """Logout: 204 also when the session is already gone."""
        self._call("DELETE", "/v1/sessions/current", headers={"X-Session-Token": token}, ok=(204,))

    def list_sessions(self, user_id: str) -> List[SessionInfo]:
        body = json_body(self._call("GET", f"/v1/users/{_q(user_id)}/sessions"))
        return [SessionInfo.of(s) for s in body["sessions"]]

    def logout_everywhere(self, user_id: str, *, keep: Optional[str] = None) -> int:
        """Deletes every session of the user (but `keep`, a session_id); returns how many."""
        path = f"/v1/users/{_q(user_id)}/sessions"
        if keep:
            path += "?except=" + _q(keep)
        return int(json_body(self._call("DELETE", path))["revoked"])

    def revoke_session(self, user_id: str, session_id: str) -> bool:
        """Deletes one session of the user; False when the user has no such live session."""
        r = self._call("DELETE", f"/v1/users/{_q(user_id)}/sessions/{_q(session_id)}", ok=(204, 404))
        return r.status == 204

    # -- tokens ---------------------------------------------------------------------------------
    def issue_tokens(self, user_id: str, *, claims: Optional[Mapping[str, Any]] = None,
                     scope: Optional[str] = None, audience: Optional[str] = None) -> TokenPair:
        body = _drop_none({"user_id": user_id, "claims": claims, "scope": scope, "audience": audience})
        return TokenPair.of(json_body(self._call("POST", "/v1/tokens", body)))

    def refresh_tokens(self, refresh_token: str) -> TokenPair:
        """A new pair; InvalidGrant when the refresh token is unknown, expired or reused (a
        reuse revokes the whole family)."""
        return TokenPair.of(json_body(self._call("POST", "/v1/tokens/refresh", {"refresh_token": refresh_token})))

    def introspect_token(self, token: str, *, audience: Optional[str] = None,
                         accept_oauth: bool = False) -> Claims:
        """POST /v1/tokens/verify: every check including revocation, on the server. Raises
        InvalidToken for any token that does not verify."""
        body: Dict[str, Any] = _drop_none({"token": token, "audience": audience})
        if accept_oauth:
            body["accept_oauth"] = True
        return Claims(json_body(self._call("POST", "/v1/tokens/verify", body, idempotent=True))["claims"])

    def verify_access_token(self, token: str, *, audience: Optional[str] = None, scopes: Sequence[str] = (),
                            check_revocation: bool = False, accept_oauth: bool = False) -> Claims:
        """Verifies an access token locally with the JWKS (no call per token), or on the server
        when check_revocation is set (a revoked token fails at once) or the ring is HS256 (no
        public key). Raises InvalidToken, Forbidden (insufficient_scope) or Unavailable."""
        alg = _alg_of(token)
        if check_revocation or alg == "HS256":
            claims = self.introspect_token(token, audience=audience, accept_oauth=accept_oauth)
        else:
            claims = self.jwks.verify(token, audience=audience, accept_oauth=accept_oauth)
        missing = [s for s in scopes if s not in claims.scopes]
        if missing:
            raise Forbidden(403, "insufficient_scope", "token lacks scope " + " ".join(missing))
        return claims

    def revoke_token(self, token: str) -> bool:
        """Revokes an access token, or a refresh token's whole family; False when nothing live."""
        return bool(json_body(self._call("POST", "/v1/tokens/revoke", {"token": token}))["revoked"])

    def revoke_user_tokens(self, user_id: str) -> int:
        """Every token of the user issued before now stops; returns the refresh families deleted."""
        return int(json_body(self._call("DELETE", f"/v1/users/{_q(user_id)}/tokens"))["refresh_families"])

    def user_token_families(self, user_id: str) -> List[Dict[str, Any]]:
        """GET /v1/users/{id}/tokens: the user's live refresh families (one per login or OAuth
        grant), never a token."""
        return list(json_body(self._call("GET", f"/v1/users/{_q(user_id)}/tokens"))["families"])

    def revoke_token_family(self, user_id: str, family_id: str) -> bool:
        """Ends one family (its refresh and access tokens); False when the user has no such live family."""
        r = self._call("DELETE", f"/v1/users/{_q(user_id)}/tokens/{_q(family_id)}", ok=(204, 404))
        return r.status == 204

    def jwks_document(self) -> Dict[str, Any]:
        return self._fetch_jwks()

    # -- OAuth ----------------------------------------------------------------------------------
    def create_oauth_client(self, *, redirect_uris: Sequence[str] = (), client_name: Optional[str] = None,
                            grant_types: Optional[Sequence[str]] = None, scope: Optional[str] = None,
                            token_endpoint_auth_method: Optional[str] = None) -> Dict[str, Any]:
        """POST /v1/oauth/clients: the client, with `client_secret` (shown only here)."""
        body = _drop_none({"client_name": client_name, "redirect_uris": list(redirect_uris) or None,
                           "grant_types": list(grant_types) if grant_types else None, "scope": scope,
                           "token_endpoint_auth_method": token_endpoint_auth_method})
        return json_body(self._call("POST", "/v1/oauth/clients", body, ok=(201,)))

    def get_oauth_client(self, client_id: str) -> Optional[Dict[str, Any]]:
        r = self._call("GET", f"/v1/oauth/clients/{_q(client_id)}", ok=(200, 404))
        return json_body(r) if r.status == 200 else None

    def list_oauth_clients(self, *, limit: Optional[int] = None, after: Optional[str] = None) -> Dict[str, Any]:
        """GET /v1/oauth/clients: one page, {"clients": [...], "next": client_id or None}; no secrets."""
        return json_body(self._call("GET", "/v1/oauth/clients" + _query({"limit": limit, "after": after})))

    # -- security events ------------------------------------------------------------------------
    def events(self, *, after: Optional[str] = None, type: Optional[str] = None, user_id: Optional[str] = None,
               ip: Optional[str] = None, limit: Optional[int] = None) -> Dict[str, Any]:
        """GET /v1/events: newest first; with `after` (an event id), the events after it, oldest
        first, and `next`."""
        return json_body(self._call("GET", "/v1/events" + _query(
            {"after": after, "type": type, "user_id": user_id, "ip": ip, "limit": limit})))

    def events_summary(self) -> Dict[str, Any]:
        """GET /v1/events/summary: locked accounts and addresses, top offenders, failures per minute."""
        return json_body(self._call("GET", "/v1/events/summary"))

    def delete_oauth_client(self, client_id: str) -> bool:
        return self._call("DELETE", f"/v1/oauth/clients/{_q(client_id)}", ok=(204, 404)).status == 204

    def authorize(self, *, user_id: str, client_id: str, redirect_uri: Optional[str] = None,
                  response_type: str = "code", scope: Optional[str] = None, state: Optional[str] = None,
                  code_challenge: Optional[str] = None,
                  code_challenge_method: Optional[str] = None) -> Authorization:
        """POST /v1/oauth/authorizations, once the backend has logged `user_id` in. Raises
        OAuthError; when its redirect_to is set, send the user agent there."""
        body = _drop_none({"user_id": user_id, "client_id": client_id, "redirect_uri": redirect_uri,
                           "response_type": response_type, "scope": scope, "state": state,
                           "code_challenge": code_challenge, "code_challenge_method": code_challenge_method})
        try:
            b = json_body(self._call("POST", "/v1/oauth/authorizations", body, ok=(201,)))
        except LatchkeyError as e:
            if e.status == 400:
                raise OAuthError(e.status, e.error, e.description, e.body) from None
            raise
        return Authorization(b["code"], b["redirect_to"], b["expires_in"])

    def oauth_token(self, form: Mapping[str, Optional[str]], *, client_id: str,
                    client_secret: Optional[str] = None) -> TokenPair:
        """POST /oauth2/token (RFC 6749) as the client `client_id` (Basic with a secret, else a
        public client): form holds grant_type and the grant's parameters."""
        return TokenPair.of(json_body(self._form("/oauth2/token", form, client_id=client_id,
                                                 client_secret=client_secret)))

    def introspect(self, token: str, *, client_id: str, client_secret: str) -> Dict[str, Any]:
        """RFC 7662 as a confidential client: {"active": false} for anything not live."""
        return json_body(self._form("/oauth2/introspect", {"token": token}, client_id=client_id,
                                    client_secret=client_secret))

    def revoke(self, token: str, *, client_id: str, client_secret: Optional[str] = None) -> None:
        """RFC 7009: 200 whatever the token; Unavailable when it could not be committed."""
        self._form("/oauth2/revoke", {"token": token}, client_id=client_id, client_secret=client_secret)

    # -- rate limits and login protection -------------------------------------------------------
    def check_rate_limit(self, key: str, *, policy: Optional[str] = None, algorithm: Optional[str] = None,
                         limit: Optional[int] = None, window: Optional[int] = None,
                         burst: Optional[int] = None, cost: Optional[int] = None) -> RateLimitResult:
        """POST /v1/ratelimit/check with a named policy or an ad-hoc limit. A denial is a result
        with allowed=False (and retry_after), not an exception; Redis down is Unavailable
        (unless the policy is fail_open)."""
        if policy is None and algorithm is None and limit is not None:
            algorithm = "fixed_window"
        body = _drop_none({"key": key, "policy": policy, "algorithm": algorithm, "limit": limit,
                           "window": window, "burst": burst, "cost": cost})
        r = self._call("POST", "/v1/ratelimit/check", body, ok=(200, 429))
        b = json_body(r)
        if r.status == 429 and b.get("error") != "rate_limited":
            check(r, 200)
        return RateLimitResult.of(b)

    def login_check(self, user_id: str, ip: str, *, device_token: Optional[str] = None) -> None:
        """Before checking a password: returns when the attempt may go on (a reservation until
        its failure or success is reported); raises RateLimited (error account_locked or
        rate_limited, retry_after) otherwise."""
        self._call("POST", "/v1/logins/check", _drop_none({"user_id": user_id, "ip": ip, "device_token": device_token}))

    def login_failure(self, user_id: str, ip: str, *, device_token: Optional[str] = None) -> LoginFailure:
        b = json_body(self._call("POST", "/v1/logins/failure",
                                 _drop_none({"user_id": user_id, "ip": ip, "device_token": device_token})))
        return LoginFailure(b["failures"], b["locked"], b["retry_after"])

    def login_success(self, user_id: str, ip: str, *, device_token: Optional[str] = None) -> str:
        """Clears the account's failures; returns a device token to keep in a long-lived cookie."""
        b = json_body(self._call("POST", "/v1/logins/success",
                                 _drop_none({"user_id": user_id, "ip": ip, "device_token": device_token})))
        return b["device_token"]

    def login_flow(self, user_id: str, ip: str, verify_password: Callable[[], bool], *,
                   device_token: Optional[str] = None) -> str:
        """The whole login-protection flow: check, then verify_password(), then report the
        outcome. Returns the new device token on success. Raises RateLimited when locked or
        throttled (verify_password is not called), InvalidCredentials when the password was
        wrong (the failure is recorded; .locked says whether this locked the account), and
        Unavailable when latchkey cannot answer (fail closed: nobody logs in unchecked). If
        verify_password raises, nothing is reported and the reservation lapses."""
        self.login_check(user_id, ip, device_token=device_token)
        if verify_password():
            return self.login_success(user_id, ip, device_token=device_token)
        f = self.login_failure(user_id, ip, device_token=device_token)
        raise InvalidCredentials(f.failures, f.locked, f.retry_after)

    def lockout(self, user_id: str) -> Lockout:
        b = json_body(self._call("GET", f"/v1/users/{_q(user_id)}/lockout"))
        return Lockout(b["user_id"], b["failures"], b["lockouts"], b["locked"], b["locked_until"], b)

    def unlock(self, user_id: str) -> None:
        self._call("DELETE", f"/v1/users/{_q(user_id)}/lockout", ok=(204,))


def _alg_of(token: str) -> Optional[str]:
    try:
        head = token.split(".", 1)[0]
        return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))).get("alg")
    except (ValueError, AttributeError, IndexError, TypeError):
        raise InvalidToken(401, "invalid_token", "malformed token") from None


__all__ = ["Latchkey", "RateLimited", "InvalidToken"]
