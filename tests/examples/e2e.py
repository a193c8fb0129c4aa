"""End-to-end test of an example app (examples/*-login) over real HTTP with real cookies.
Usage: e2e.py <app url> <latchkey url> <admin key>. Each "browser" keeps its own cookies
from Set-Cookie (honouring Max-Age=0) and sends them back, as a browser does on localhost."""

from __future__ import annotations

import http.client
import json
import secrets
import sys
import urllib.parse

app, lk_url, key = sys.argv[1], sys.argv[2], sys.argv[3]
fails = 0


def check(label: str, ok: bool, detail: str = "") -> None:
    global fails
    print(("ok   " if ok else "FAIL ") + label + ("" if ok else f": {detail}"))
    fails += not ok


class Browser:
    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}
        self.set_cookie_lines: list[str] = []

    def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None):
        u = urllib.parse.urlsplit(app)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        h = {"Host": u.netloc, **(headers or {})}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            h["Content-Type"] = "application/x-www-form-urlencoded"
            h.setdefault("Origin", app)  # a same-origin form, unless the test says otherwise
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        text = r.read().decode()
        for line in r.headers.get_all("Set-Cookie") or []:
            self.set_cookie_lines.append(line)
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in line or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        c.close()
        return r.status, text


def admin(method: str, path: str, body: dict | None = None):
    u = urllib.parse.urlsplit(lk_url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    return r.status, json.loads(data) if data else None


good = {"username": "alice", "password": "correct horse"}
phone, laptop = Browser(), Browser()
st, text = laptop.request("GET", "/")
check("the front page shows the login form", st == 200 and "Log in" in text, f"{st}")
st, _ = laptop.request("POST", "/login", good)
check("logging in redirects", st in (302, 303), f"{st}")
attrs = laptop.set_cookie_lines[-1] if laptop.set_cookie_lines else ""
check("the session cookie is __Host-, HttpOnly, Secure, SameSite, Path=/",
      attrs.startswith("__Host-session=") and all(a in attrs for a in ("HttpOnly", "Secure", "SameSite=", "Path=/")), attrs)
st, text = laptop.request("GET", "/")
check("logged in, the page greets alice", st == 200 and "Hello, alice" in text, f"{st} {text[:80]}")
phone.request("POST", "/login", good)
check("a second browser logs in too", "Hello, alice" in phone.request("GET", "/")[1])
# With a live session, so only the origin check can refuse it.
st, _ = laptop.request("POST", "/logout-everywhere", {}, headers={"Origin": "https://evil.example"})
check("a cross-origin write with a live session is refused", st == 403, f"{st}")
check("and changed nothing: the laptop is still logged in", "Hello, alice" in laptop.request("GET", "/")[1])

tok = admin("POST", "/v1/tokens", {"user_id": "alice", "scope": "profile"})[1]["access_token"]
st, text = Browser().request("GET", "/api/profile", headers={"Authorization": f"Bearer {tok}"})
check("the API route accepts a latchkey access token", st == 200 and json.loads(text)["user"] == "alice", f"{st} {text}")
st, _ = Browser().request("GET", "/api/profile")
check("the API route refuses a request without a token", st == 401, f"{st}")

mallory = Browser()
bob = "bob-" + secrets.token_hex(4)  # an account nobody has attacked yet (latchkey counts any name)
codes = [mallory.request("POST", "/login", {"username": bob, "password": f"guess{i}"})[0] for i in range(5)]
check("five wrong passwords are refused", codes == [401] * 5, f"{codes}")
st, text = mallory.request("POST", "/login", {"username": bob, "password": "anything"})
check("the sixth attempt meets the lock", st == 429 and "locked" in text.lower(), f"{st} {text[:80]}")
st, lock = admin("GET", f"/v1/users/{bob}/lockout")
check("latchkey reports bob locked", st == 200 and lock["locked"] is True, f"{lock}")

st, _ = phone.request("POST", "/logout-everywhere", {})
check("log out everywhere from the phone", st in (302, 303), f"{st}")
st, text = laptop.request("GET", "/")
check("the laptop's session has ended", "Log in" in text and "Hello" not in text, text[:80])
st, _ = laptop.request("POST", "/logout-everywhere", {})
check("an ended session cannot act", st == 401, f"{st}")
print("e2e: ok" if fails == 0 else f"e2e: {fails} failed")
sys.exit(1 if fails else 0)
