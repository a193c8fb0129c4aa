"""Typed results. Each keeps the whole answer in `raw`, so fields added to the API later are
readable before this package names them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass(frozen=True)
class Session:
    """A live session (validate, current, update, create, rotate). `token` is set only by
    create and rotate; `set_cookie` only when latchkey answered in cookie mode."""
    session_id: str
    user_id: str
    created_at: int
    last_seen_at: int
    idle_expires_at: int
    expires_at: int
    version: int
    data: Dict[str, Any] = field(default_factory=dict)
    device: Dict[str, Any] = field(default_factory=dict)
    ip: str = ""
    token: Optional[str] = None
    evicted: List[str] = field(default_factory=list)
    set_cookie: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, body: Dict[str, Any], set_cookie: Optional[str] = None) -> "Session":
        return cls(session_id=body["session_id"], user_id=body["user_id"], created_at=body["created_at"],
                   last_seen_at=body["last_seen_at"], idle_expires_at=body["idle_expires_at"],
                   expires_at=body["expires_at"], version=body.get("version", 1),
                   data=body.get("data", {}), device=body.get("device", {}), ip=body.get("ip", ""),
                   token=body.get("token"), evicted=list(body.get("evicted", [])),
                   set_cookie=set_cookie, raw=body)


@dataclass(frozen=True)
class SessionInfo:
    """One entry of a user's session list: metadata only, never a token or data."""
    session_id: str
    created_at: int
    last_seen_at: int
    idle_expires_at: int
    expires_at: int
    device: Dict[str, Any]
    ip: str
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, body: Dict[str, Any]) -> "SessionInfo":
        return cls(body["session_id"], body["created_at"], body["last_seen_at"], body["idle_expires_at"],
                   body["expires_at"], body.get("device", {}), body.get("ip", ""), body)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: Optional[str] = None
    scope: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, body: Dict[str, Any]) -> "TokenPair":
        return cls(body["access_token"], body["token_type"], body["expires_in"],
                   body.get("refresh_token"), body.get("scope"), body)


class Claims(dict):
    """Verified access-token claims (a dict), with the usual ones as attributes."""

    @property
    def subject(self) -> str:
        return self["sub"]

    @property
    def scopes(self) -> List[str]:
        return str(self.get("scope", "")).split()

    @property
    def client_id(self) -> Optional[str]:
        return self.get("client_id")


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int
    retry_after: int
    shadow_denied: bool = False
    fail_open: bool = False
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, body: Dict[str, Any]) -> "RateLimitResult":
        return cls(body["allowed"], body["limit"], body["remaining"], body["reset_after"], body["retry_after"],
                   bool(body.get("shadow_denied", False)), bool(body.get("fail_open", False)), body)


@dataclass(frozen=True)
class LoginFailure:
    failures: int
    locked: bool
    retry_after: int


@dataclass(frozen=True)
class Lockout:
    user_id: str
    failures: int
    lockouts: int
    locked: bool
    locked_until: int
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Authorization:
    """POST /v1/oauth/authorizations: send the user agent to `redirect_to`."""
    code: str
    redirect_to: str
    expires_in: int
