// latchkey console: one page, no dependencies, no inline script (the CSP forbids it). Every
// value from the server is written with textContent, never as HTML. It calls the same admin
// API the backends use, on this listener, with the console session's cookie; writes carry the
// session's CSRF token in X-CSRF-Token.
"use strict";

const EVENT_TYPES = ["session_created", "session_destroyed", "session_evicted", "session_rotated",
  "logout_everywhere", "refresh_reuse", "code_replay", "token_revoked", "user_tokens_revoked",
  "login_failure", "lockout", "ip_blocked", "unlock", "client_created", "client_deleted", "key_added",
  "key_retired", "admin_auth_failure", "oauth_client_auth_failure", "console_login", "console_login_failure"];

const state = { session: null, timer: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "onclick") e.addEventListener("click", v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function when(seconds) {
  if (!seconds) return "-";
  return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + "Z";
}

function left(seconds) {
  if (seconds <= 0) return "0 s";
  if (seconds < 120) return seconds + " s";
  if (seconds < 7200) return Math.round(seconds / 60) + " min";
  return Math.round(seconds / 3600) + " h";
}

function status(text) {
  $("status").textContent = text || "";
  if (text) setTimeout(() => { if ($("status").textContent === text) $("status").textContent = ""; }, 4000);
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.error_description || body.error)) || ("HTTP " + status));
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.session) headers["X-CSRF-Token"] = state.session.csrf_token;
  const r = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (r.status === 401 && path.startsWith("/v1/")) { showLogin("Your console session ended: log in again."); }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// A write, confirmed first when it destroys something; its outcome shown either way.
async function write(what, method, path, body, confirmText) {
  if (confirmText && !window.confirm(confirmText)) return null;
  try {
    const out = await api(method, path, body);
    status(what + ": done");
    return out || {};
  } catch (e) {
    status(what + ": refused (" + e.message + ")");
    return null;
  }
}

function table(id, head, rows, empty) {
  const t = $(id);
  t.replaceChildren();
  t.append(el("tr", {}, ...head.map((h) => el("th", {}, h))));
  if (!rows.length) {
    t.append(el("tr", {}, el("td", { class: "empty", colspan: head.length }, empty || "none")));
    return;
  }
  for (const r of rows) t.append(el("tr", {}, ...r.map((c) => el("td", {}, c))));
}

function button(label, onclick, cls) {
  return el("button", { class: "small write " + (cls || ""), onclick, type: "button" }, label);
}

// --- Views ---------------------------------------------------------------------------------

const VIEWS = ["login", "overview", "users", "clients", "events"];

function show(view) {
  for (const v of VIEWS) $(v + "-view").hidden = v !== view;
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.id === "nav-" + view);
  const signedIn = view !== "login";
  $("nav").hidden = !signedIn;
  $("who").hidden = !signedIn;
  $("logout").hidden = !signedIn;
}

function showLogin(message) {
  state.session = null;
  stopTimer();
  document.body.classList.remove("read-only");
  show("login");
  $("login-error").textContent = message || "";
  $("key").focus();
}

function stopTimer() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

function every(ms, fn) {
  stopTimer();
  state.timer = setInterval(fn, ms);
}

async function route() {
  if (!state.session) return;
  const hash = location.hash || "#/overview";
  const [, page, arg] = hash.split("/");
  stopTimer();
  if (page === "users") {
    show("users");
    if (arg) {
      $("user-id").value = decodeURIComponent(arg);
      await loadUser(decodeURIComponent(arg));
    } else {
      $("user-detail").hidden = true;
    }
  } else if (page === "clients") {
    show("clients");
    await loadClients();
  } else if (page === "events") {
    show("events");
    await loadEvents();
    every(5000, () => { if ($("ev-auto").checked) loadEvents(); });
  } else {
    show("overview");
    await loadOverview();
    every(10000, loadOverview);
  }
}

// --- Overview ------------------------------------------------------------------------------

function chart(perMinute) {
  const ns = "http://www.w3.org/2000/svg";
  const w = 600, h = 140, pad = 18;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const max = Math.max(1, ...perMinute);
  const bw = (w - pad) / perMinute.length;
  perMinute.forEach((n, i) => {
    const bh = (h - pad) * (n / max);
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("class", "bar");
    r.setAttribute("x", String(pad + i * bw + 1));
    r.setAttribute("y", String(h - pad - bh));
    r.setAttribute("width", String(Math.max(1, bw - 2)));
    r.setAttribute("height", String(bh));
    const title = document.createElementNS(ns, "title");
    title.textContent = `${60 - i} min ago: ${n}`;
    r.append(title);
    svg.append(r);
  });
  const axis = document.createElementNS(ns, "line");
  axis.setAttribute("class", "axis");
  axis.setAttribute("x1", String(pad)); axis.setAttribute("x2", String(w));
  axis.setAttribute("y1", String(h - pad)); axis.setAttribute("y2", String(h - pad));
  svg.append(axis);
  for (const [x, label] of [[pad, "-60 min"], [w - 30, "now"]]) {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", String(x)); t.setAttribute("y", String(h - 4));
    t.textContent = label;
    svg.append(t);
  }
  const top = document.createElementNS(ns, "text");
  top.setAttribute("x", "0"); top.setAttribute("y", "10");
  top.textContent = String(max);
  svg.append(top);
  $("chart").replaceChildren(svg);
}

async function loadOverview() {
  let s, server;
  try {
    [s, server] = await Promise.all([api("GET", "/v1/events/summary"), api("GET", "/v1/server")]);
  } catch (e) {
    $("overview-note").textContent = "Could not load: " + e.message;
    return;
  }
  const failures = s.failures_per_minute.reduce((a, b) => a + b, 0);
  const set = (id, v, bad) => { $(id).textContent = v; $(id).classList.toggle("bad", !!bad); };
  set("count-locked-accounts", s.locked_accounts.length, s.locked_accounts.length > 0);
  set("count-locked-ips", s.locked_ips.length, s.locked_ips.length > 0);
  set("count-failures", failures, failures > 0);
  $("redis-state").textContent = server.redis.ready ? "ready" : "down";
  $("redis-state").classList.toggle("good", server.redis.ready);
  $("redis-state").classList.toggle("bad", !server.redis.ready);
  $("redis-endpoint").textContent = "Redis " + (server.redis.endpoint || "");
  chart(s.failures_per_minute);
  table("locked-accounts", ["account", "time left", "until", ""], s.locked_accounts.map((a) => [
    el("a", { href: "#/users/" + encodeURIComponent(a.user_id) }, a.user_id), left(a.seconds_left),
    when(a.locked_until),
    button("Unlock", async () => {
      if (await write("Unlock " + a.user_id, "DELETE", "/v1/users/" + encodeURIComponent(a.user_id) + "/lockout",
        undefined, "Unlock " + a.user_id + "?")) loadOverview();
    })]), "no account is locked");
  table("locked-ips", ["address", "time left", "until"], s.locked_ips.map((a) => [
    el("a", { href: "#/events", "data-ip": a.ip, onclick: () => { $("ev-ip").value = a.ip; } }, a.ip),
    left(a.seconds_left), when(a.locked_until)]), "no address is blocked");
  table("top-accounts", ["account", "failures"], s.top_accounts.map((a) => [
    el("a", { href: "#/users/" + encodeURIComponent(a.user_id) }, a.user_id), a.failures]), "no failed login");
  table("top-ips", ["address", "failures"], s.top_ips.map((a) => [a.ip, a.failures]), "no failed login");
  table("signing-keys", ["kid", "alg", "state", "activates", "verifies until"], (server.signing_keys || []).map((k) => [
    el("code", {}, k.kid), k.alg,
    el("span", { class: "badge" + (k.expired ? " warn" : "") },
      k.signing ? "signing" : k.expired ? "expired" : k.expires_at ? "retiring" : "verifying"),
    when(k.activates_at), k.expires_at ? when(k.expires_at) : "-"]));
  $("overview-note").textContent = "Updated " + when(s.time) + (s.truncated ? " (more events than scanned: counts are a lower bound)" : "") +
    " - latchkey " + server.version + ", " + server.threads + " threads.";
}

// --- Users ---------------------------------------------------------------------------------

async function loadUser(user) {
  const u = encodeURIComponent(user);
  let sessions, tokens, lockout;
  try {
    [sessions, tokens, lockout] = await Promise.all([api("GET", `/v1/users/${u}/sessions`),
      api("GET", `/v1/users/${u}/tokens`), api("GET", `/v1/users/${u}/lockout`)]);
  } catch (e) {
    status("Look-up refused: " + e.message);
    return;
  }
  $("user-detail").hidden = false;
  $("user-detail").dataset.user = user;
  const reload = () => loadUser(user);
  table("user-sessions", ["session", "created", "last seen", "idle expiry", "absolute expiry", "ip", "device", ""],
    sessions.sessions.map((s) => [
      el("code", {}, s.session_id), when(s.created_at), when(s.last_seen_at), when(s.idle_expires_at),
      when(s.expires_at), s.ip || "-", Object.entries(s.device || {}).map(([k, v]) => k + ": " + v).join(", ") || "-",
      button("Revoke", async () => {
        if (await write("Revoke session", "DELETE", `/v1/users/${u}/sessions/${s.session_id}`, undefined,
          "Revoke session " + s.session_id + "?")) reload();
      }, "danger revoke-session")]), "no live session");
  table("user-tokens", ["family", "client", "scope", "created", "last used", "idle expiry", "absolute expiry", ""],
    tokens.families.map((f) => [
      el("code", {}, f.family_id), f.client_id || "(first-party)", f.scope || "-", when(f.created_at),
      when(f.last_used_at), when(f.idle_expires_at), when(f.expires_at),
      button("Revoke", async () => {
        if (await write("Revoke token family", "DELETE", `/v1/users/${u}/tokens/${f.family_id}`, undefined,
          "Revoke this login's tokens?")) reload();
      }, "danger revoke-family")]), "no live token family");
  const lock = $("user-lockout");
  lock.replaceChildren();
  const now = Math.floor(Date.now() / 1000);
  if (lockout.locked && lockout.locked_until > now) {
    lock.append(el("p", {}, el("span", { class: "badge warn", id: "lock-state" }, "locked"),
      ` for ${left(lockout.locked_until - now)} (until ${when(lockout.locked_until)}), ${lockout.failures} failures, ${lockout.lockouts} lockouts `),
    button("Unlock", async () => {
      if (await write("Unlock", "DELETE", `/v1/users/${u}/lockout`, undefined, "Unlock " + user + "?")) reload();
    }, "unlock"));
  } else {
    lock.append(el("p", {}, el("span", { class: "badge", id: "lock-state" }, "not locked"),
      ` ${lockout.failures} failures in the window, ${lockout.lockouts} lockouts`));
  }
}

// --- OAuth clients -------------------------------------------------------------------------

async function loadClients() {
  const all = [];
  let after = "";
  try {
    for (let i = 0; i < 50; i++) {
      const page = await api("GET", "/v1/oauth/clients?limit=1000" + (after ? "&after=" + after : ""));
      all.push(...page.clients);
      if (!page.next) break;
      after = page.next;
    }
  } catch (e) {
    status("Could not list clients: " + e.message);
    return;
  }
  table("clients", ["client_id", "name", "redirect URIs", "grant types", "scope", "authentication", "registered", ""],
    all.map((c) => [
      el("code", {}, c.client_id), c.client_name || "-", c.redirect_uris.join(" "), c.grant_types.join(" "),
      c.scope || "-", c.token_endpoint_auth_method, when(c.client_id_issued_at),
      button("Delete", async () => {
        if (await write("Delete client", "DELETE", "/v1/oauth/clients/" + c.client_id, undefined,
          "Delete client " + (c.client_name || c.client_id) + "? Its tokens stop working.")) loadClients();
      }, "danger delete-client")]), "no client registered");
}

async function createClient(ev) {
  ev.preventDefault();
  const grants = $("client-grants").value.split(" ");
  const body = { client_name: $("client-name").value, grant_types: grants,
    token_endpoint_auth_method: $("client-method").value };
  if ($("client-redirect").value) body.redirect_uris = [$("client-redirect").value];
  if ($("client-scope").value) body.scope = $("client-scope").value;
  const out = await write("Register client", "POST", "/v1/oauth/clients", body);
  if (!out) return;
  $("client-form").reset();
  $("new-client-id").textContent = out.client_id;
  $("new-client-secret").textContent = out.client_secret || "(a public client has no secret)";
  $("client-secret-box").hidden = false;
  await loadClients();
}

// --- Events --------------------------------------------------------------------------------

async function loadEvents() {
  const q = new URLSearchParams({ limit: "100" });
  if ($("ev-type").value) q.set("type", $("ev-type").value);
  if ($("ev-user").value) q.set("user_id", $("ev-user").value);
  if ($("ev-ip").value) q.set("ip", $("ev-ip").value);
  let out;
  try {
    out = await api("GET", "/v1/events?" + q.toString());
  } catch (e) {
    status("Events refused: " + e.message);
    return;
  }
  const known = new Set(["id", "time", "type", "user_id", "ip", "outcome", "request_id"]);
  table("events", ["time", "type", "user", "ip", "outcome", "details", "request"], out.events.map((e) => [
    e.time, el("span", { class: "badge" }, e.type),
    e.user_id ? el("a", { href: "#/users/" + encodeURIComponent(e.user_id) }, e.user_id) : "-",
    e.ip || "-", e.outcome || "-",
    Object.entries(e).filter(([k]) => !known.has(k)).map(([k, v]) => k + "=" + v).join(" ") || "-",
    el("code", {}, e.request_id || "-")]), "no event matches");
}

// --- Start ---------------------------------------------------------------------------------

function signedIn(session) {
  state.session = session;
  document.body.classList.toggle("read-only", session.grant !== "full");
  $("who").textContent = session.grant === "full" ? "full access" : "read-only";
  route();
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const s = await api("POST", "/console/login", { key: $("key").value });
    $("key").value = "";
    signedIn(s);
  } catch (e) {
    $("key").value = "";
    $("login-error").textContent = e.status === 429
      ? "Too many failed logins from this address: try again in " + ((e.body && e.body.retry_after) || "a few") + " s."
      : "Login refused: " + e.message;
  }
}

async function logout() {
  try { await api("POST", "/console/logout"); } catch (e) { /* the session is gone either way */ }
  location.hash = "";
  showLogin("Logged out.");
}

document.addEventListener("DOMContentLoaded", async () => {
  for (const t of EVENT_TYPES) $("ev-type").append(el("option", { value: t }, t));
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("user-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = "#/users/" + encodeURIComponent($("user-id").value);
  });
  $("logout-everywhere").addEventListener("click", async () => {
    const user = $("user-detail").dataset.user;
    if (await write("Log out everywhere", "DELETE", "/v1/users/" + encodeURIComponent(user) + "/sessions", undefined,
      "End every session of " + user + "?")) loadUser(user);
  });
  $("client-form").addEventListener("submit", createClient);
  $("client-secret-done").addEventListener("click", () => {
    $("new-client-secret").textContent = "";
    $("client-secret-box").hidden = true;
  });
  $("events-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadEvents(); });
  window.addEventListener("hashchange", route);
  try {
    signedIn(await api("GET", "/console/session"));
  } catch (e) {
    showLogin("");
  }
});
