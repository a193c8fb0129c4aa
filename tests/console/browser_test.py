#!/usr/bin/python3
"""The console in a real browser (Debian's chromium, headless, driven by python3-selenium).

Every action taken in the page is checked through the admin API (with the admin key, on the
API listener), never by the page's word alone. Usage:
  browser_test.py CONSOLE_URL API_URL ADMIN_KEY READ_ONLY_KEY SCREENSHOT_DIR
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

console, api_url, key, ro_key, shots = sys.argv[1:6]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def http(method, url, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    h = dict(headers or {})
    if body is not None and "Content-Type" not in h:
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=h)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        r = opener.open(req, timeout=10)
    except urllib.error.HTTPError as e:
        r = e
    text = r.read().decode()
    try:
        parsed = json.loads(text) if text else None
    except json.JSONDecodeError:
        parsed = text
    return r.status, parsed, r.headers


def admin(method, path, body=None):
    return http(method, api_url + path, body, {"Authorization": "Bearer " + key})


# --- HTTP-level guarantees, asserted from the responses -----------------------------------
status, _, h = http("GET", console + "/console/")
check(status == 200 and h["Content-Type"].startswith("text/html"), "GET /console/ serves the page")
csp = h.get("Content-Security-Policy", "")
check("default-src 'self'" in csp and "frame-ancestors 'none'" in csp, "CSP default-src 'self'; frame-ancestors 'none'")
check(h.get("Cache-Control") == "no-store", "Cache-Control: no-store")
check(h.get("X-Frame-Options") == "DENY" and h.get("X-Content-Type-Options") == "nosniff", "no framing, nosniff")
status, _, h = http("GET", console + "/console/app.js")
check(status == 200 and "javascript" in h["Content-Type"] and h.get("Cache-Control") == "no-store",
      "the script is a file of its own (no inline script), not cached")
status, page, _ = http("GET", console + "/console/")
check("<script>" not in page and "onclick=" not in page and "style=" not in page,
      "the page has no inline script, handler or style")
status, _, h = http("GET", console + "/")
check(status == 302 and h.get("Location") == "/console/", "/ redirects to /console/")
status, _, _ = http("GET", console + "/console/../../etc/passwd")
check(status == 404, "no file outside the embedded ones")
status, body, _ = http("GET", console + "/v1/events", headers={"Authorization": "Bearer " + key})
check(status == 401, "the console listener takes no Bearer key, only its session")
status, body, h = http("POST", console + "/console/login", {"key": key})
cookie = h.get("Set-Cookie", "")
check(status == 200 and body["grant"] == "full", "a full key logs in")
attrs = [a.strip() for a in cookie.split(";")]
check(attrs[0].startswith("__Host-latchkey-console=") and "Secure" in attrs and "HttpOnly" in attrs
      and "SameSite=Strict" in attrs and "Path=/" in attrs and not any(a.startswith("Domain") for a in attrs),
      "cookie: __Host-, Secure, HttpOnly, SameSite=Strict, Path=/, no Domain")
check(any(a == "Max-Age=28800" for a in attrs), "cookie lives no longer than console_absolute_ttl (8 h)")
sid = body["session_id"]
check(body["idle_expires_at"] - int(time.time()) <= 900 + 2, "idle timeout of a console session is 15 min")
for bad_body in [b"not json", b'{"key": 7}', b'{"key": ""}', b'{"key": "x", "extra": 1}',
                 json.dumps({"key": "k" * 600}).encode()]:
    status, body, _ = http("POST", console + "/console/login", bad_body)
    check(status == 400, f"malformed login {bad_body[:30]!r} is 400")
status, _, _ = http("POST", console + "/console/login", b'{"key":"x"}', {"Content-Type": "text/plain"})
check(status == 415, "a login that is not JSON (a cross-site form post) is refused")
# Those refusals were not failed logins; clear the one success above from the count anyway.
admin("DELETE", "/v1/users/console@127.0.0.1/lockout")

# --- The state the pages will show --------------------------------------------------------
s1 = admin("POST", "/v1/sessions", {"user_id": "alice", "ip": "198.51.100.20",
                                    "device": {"user_agent": "Firefox on Linux"}})[1]
s2 = admin("POST", "/v1/sessions", {"user_id": "alice", "ip": "203.0.113.5",
                                    "device": {"user_agent": "Safari on iPhone"}})[1]
tok = admin("POST", "/v1/tokens", {"user_id": "alice", "scope": "read"})[1]
for i in range(5):
    admin("POST", "/v1/logins/failure", {"user_id": "mallory", "ip": f"192.0.2.{10 + i % 3}"})
for i in range(3):
    admin("POST", "/v1/logins/failure", {"user_id": "bob", "ip": "192.0.2.10"})
check(admin("GET", "/v1/users/mallory/lockout")[1]["locked"], "mallory is locked (5 failures)")

# --- The browser -------------------------------------------------------------------------
opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
          "--disable-gpu", "--no-first-run"]:
    opts.add_argument(a)
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
wait = WebDriverWait(driver, 10)


def shot(name):
    path = os.path.join(shots, f"console-{name}.png")
    driver.save_screenshot(path)
    print(f"     screenshot {path}")


def visible(id_):
    return wait.until(EC.visibility_of_element_located((By.ID, id_)))


def text_in(id_, text):
    wait.until(EC.text_to_be_present_in_element((By.ID, id_), text))


def log_in(k):
    visible("key").clear()
    driver.find_element(By.ID, "key").send_keys(k)
    driver.find_element(By.ID, "login-button").click()


def fetch(method, path, csrf=True, body=None):
    """The page's own fetch (its cookie), with or without the session's CSRF token."""
    return driver.execute_async_script("""
        const [method, path, csrf, body, done] = arguments;
        fetch('/console/session').then(r => r.json()).then(s => {
          const h = {'Content-Type': 'application/json'};
          if (csrf) h['X-CSRF-Token'] = s.csrf_token;
          return fetch(path, {method, headers: h, body: body === null ? undefined : JSON.stringify(body)});
        }).then(r => done(r.status)).catch(e => done('error ' + e));
    """, method, path, csrf, body)


try:
    driver.get(console + "/console/")
    visible("login-view")
    shot("login")
    # A wrong key five times locks console login from this address, the right key included.
    for i in range(5):
        log_in(f"wrong-key-{i}-0123456789abcdef0123456789")
        text_in("login-error", "Login refused")
    log_in(key)
    text_in("login-error", "Too many failed logins")
    check(driver.find_element(By.ID, "login-view").is_displayed() and not driver.get_cookies(),
          "five wrong keys lock console login (the right key is refused too: no session, still the login page)")
    st = admin("GET", "/v1/users/console@127.0.0.1/lockout")[1]
    check(st["locked"], "the lockout is latchkey's own (GET /v1/users/console@127.0.0.1/lockout)")
    evs = admin("GET", "/v1/events?type=console_login_failure")[1]["events"]
    check(len(evs) >= 5 and all(e.get("ip") == "127.0.0.1" for e in evs) and
          all(key not in json.dumps(e) for e in evs), "console_login_failure events, with the address, no key")
    check(admin("DELETE", "/v1/users/console@127.0.0.1/lockout")[0] == 204, "an admin unlocks console login")

    log_in(key)
    visible("overview-view")
    text_in("count-locked-accounts", "1")
    cookies = {c["name"]: c for c in driver.get_cookies()}
    c = cookies.get("__Host-latchkey-console")
    check(c is not None and c["httpOnly"] and c["secure"] and c.get("sameSite") == "Strict",
          "the browser holds the session cookie as HttpOnly, Secure, SameSite=Strict")
    check(driver.execute_script("return document.cookie") == "", "no script can read the cookie")
    text_in("locked-accounts", "mallory")
    text_in("top-ips", "192.0.2.10")
    text_in("redis-state", "ready")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#chart svg rect.bar")) == 60, "the chart has 60 minutes")
    check("signing" in driver.find_element(By.ID, "signing-keys").text, "the signing key is listed")
    shot("overview")

    # Users: look alice up; her two sessions and her token family.
    driver.find_element(By.ID, "nav-users").click()
    visible("user-id").send_keys("alice")
    driver.find_element(By.ID, "user-lookup").click()
    visible("user-detail")
    text_in("user-sessions", s1["session_id"])
    text_in("user-sessions", "Safari on iPhone")
    text_in("user-tokens", "read")
    shot("user")
    driver.execute_script("window.confirm = () => true;")
    row = driver.find_element(By.XPATH, f"//table[@id='user-sessions']//tr[td/code[text()='{s1['session_id']}']]")
    row.find_element(By.CSS_SELECTOR, "button.revoke-session").click()
    wait.until(lambda d: s1["session_id"] not in d.find_element(By.ID, "user-sessions").text)
    st1 = admin("POST", "/v1/sessions/validate", {"token": s1["token"]})[0]
    st2 = admin("POST", "/v1/sessions/validate", {"token": s2["token"]})[0]
    check(st1 == 401 and st2 == 200, "revoked in the page: that token is dead through the API, the other lives")
    # Revoke her token family in the page.
    driver.find_element(By.CSS_SELECTOR, "#user-tokens button.revoke-family").click()
    text_in("user-tokens", "no live token family")
    check(admin("POST", "/v1/tokens/refresh", {"refresh_token": tok["refresh_token"]})[0] == 401,
          "the family revoked in the page: its refresh token is dead through the API")
    check(admin("POST", "/v1/tokens/verify", {"token": tok["access_token"]})[0] == 401,
          "and its access token too")

    # Unlock mallory from her user page.
    driver.execute_script("location.hash = '#/users/mallory'")
    text_in("user-lockout", "locked")
    driver.execute_script("window.confirm = () => true;")
    driver.find_element(By.CSS_SELECTOR, "#user-lockout button.unlock").click()
    text_in("lock-state", "not locked")
    check(not admin("GET", "/v1/users/mallory/lockout")[1]["locked"], "unlocked in the page: unlocked through the API")

    # OAuth clients: create one; its secret is shown once and works.
    driver.find_element(By.ID, "nav-clients").click()
    visible("client-name").send_keys("Shop backend")
    Select(driver.find_element(By.ID, "client-grants")).select_by_value("client_credentials")
    driver.find_element(By.ID, "client-scope").send_keys("read")
    driver.find_element(By.ID, "client-create").click()
    visible("client-secret-box")
    cid = driver.find_element(By.ID, "new-client-id").text
    secret = driver.find_element(By.ID, "new-client-secret").text
    text_in("clients", cid)
    shot("clients")
    import base64
    basic = base64.b64encode(f"{cid}:{secret}".encode()).decode()
    st, out, _ = http("POST", api_url + "/oauth2/token", b"grant_type=client_credentials",
                      {"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
    check(st == 200 and "access_token" in out, "the secret shown is the client's (client_credentials works)")
    check(admin("GET", "/v1/oauth/clients/" + cid)[1]["client_name"] == "Shop backend", "the client exists")
    driver.find_element(By.ID, "client-secret-done").click()
    driver.refresh()
    visible("clients-view")
    text_in("clients", cid)
    check(secret not in driver.page_source, "once dismissed (and after a reload) the secret is nowhere in the page")

    # Events with a filter, auto-refreshing.
    driver.find_element(By.ID, "nav-events").click()
    Select(visible("ev-type")).select_by_value("login_failure")
    driver.find_element(By.ID, "events-apply").click()
    text_in("events", "mallory")
    check("session_created" not in driver.find_element(By.ID, "events").text, "the type filter holds")
    admin("POST", "/v1/logins/failure", {"user_id": "carol-after", "ip": "192.0.2.99"})
    url_before = driver.current_url
    wait.until(lambda d: "carol-after" in d.find_element(By.ID, "events").text)
    check(driver.current_url == url_before and driver.find_element(By.ID, "ev-auto").is_selected(),
          "a new event appears without a reload (auto-refresh)")
    shot("events")

    # CSRF: a write without the token is refused, whatever the cookie.
    check(fetch("DELETE", "/v1/users/alice/sessions", csrf=False) == 403, "a write without X-CSRF-Token is 403")
    check(admin("POST", "/v1/sessions/validate", {"token": s2["token"]})[0] == 200, "and changed nothing")

    # Log out: the cookie's session is gone in Redis.
    driver.find_element(By.ID, "logout").click()
    visible("login-view")
    check(fetch("GET", "/v1/events") == 401, "after logout the session is dead")

    # A read-only key: every page renders, every write is refused by the server.
    log_in(ro_key)
    visible("overview-view")
    text_in("who", "read-only")
    shot("overview-read-only")
    driver.execute_script("location.hash = '#/users/alice'")
    text_in("user-sessions", s2["session_id"])
    check(not driver.find_element(By.ID, "logout-everywhere").is_displayed(), "read-only: write controls hidden")
    for method, path, body in [("DELETE", "/v1/users/alice/sessions", None),
                               ("DELETE", f"/v1/users/alice/sessions/{s2['session_id']}", None),
                               ("DELETE", "/v1/users/mallory/lockout", None),
                               ("POST", "/v1/oauth/clients", {"client_name": "x", "grant_types": ["client_credentials"]}),
                               ("DELETE", f"/v1/oauth/clients/{cid}", None),
                               ("POST", "/v1/server/reload", None)]:
        check(fetch(method, path, body=body) == 403, f"read-only console: {method} {path} is 403")
    check(admin("POST", "/v1/sessions/validate", {"token": s2["token"]})[0] == 200, "read-only: alice's session lives")
    check(admin("GET", "/v1/oauth/clients/" + cid)[0] == 200, "read-only: the client is still there")
    evs = admin("GET", "/v1/events?type=console_login")[1]["events"]
    check({e["outcome"] for e in evs} == {"full", "read_only"}, "console_login events carry the grant")
finally:
    driver.quit()

print(f"console: {'FAILED ' + str(len(failures)) if failures else 'ok'}", flush=True)
sys.exit(1 if failures else 0)
