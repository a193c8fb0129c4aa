// /v1/sessions and /v1/users/{user_id}/sessions: JSON in and out, field validation, cookie
// mode. The session logic itself is sessions::Service (src/engine/sessions/).
//
// Input policy: unknown fields are rejected (400 naming the field), so a typo such as
// "idle_tll" never silently falls back to a default.
#include "server/handlers/common.hpp"
#include "server/routes.hpp"
#include "server/services.hpp"

#include "latchkey/config.hpp"
#include "latchkey/log.hpp"

#include <arpa/inet.h>
#include <boost/json.hpp>

#include <initializer_list>

namespace latchkey::server::handlers {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;

constexpr std::size_t kMaxDeviceBytes = 2048;

bool valid_ip(const std::string& ip) {
  unsigned char buf[16];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

// The session token of a /current request: X-Session-Token, else the session cookie.
struct PresentedToken {
  std::string value;
  bool from_cookie = false;
};

std::optional<PresentedToken> presented_token(const RequestContext& ctx) {
  std::string_view header = ctx.request.header("x-session-token");
  if (!header.empty()) return PresentedToken{std::string(header), false};
  if (auto c = cookie_value(ctx.request, ctx.config.session_cookie_name)) return PresentedToken{std::string(*c), true};
  return std::nullopt;
}

std::string cookie(const Config& c, std::string_view value, std::int64_t max_age) {
  std::string out = c.session_cookie_name + "=" + std::string(value) + "; Path=/; Max-Age=" + std::to_string(max_age) +
                    "; HttpOnly; SameSite=" + c.session_cookie_samesite;
  if (c.session_cookie_secure) out += "; Secure";
  return out;
}

// Session view JSON, written directly (this is the hottest response); data and device are
// spliced in as stored, since they were serialized by us from validated JSON.
std::string view_json(const sessions::View& v) {
  std::string s;
  s.reserve(200 + v.data_json.size() + v.device_json.size() + v.user_id.size());
  s += "{\"session_id\":";
  append_json_string(s, v.session_id);
  s += ",\"user_id\":";
  append_json_string(s, v.user_id);
  s += ",\"data\":";
  s += v.data_json;
  s += ",\"device\":";
  s += v.device_json;
  s += ",\"ip\":";
  append_json_string(s, v.ip);
  const std::pair<const char*, std::int64_t> numbers[] = {{",\"created_at\":", v.created_at},
                                                          {",\"last_seen_at\":", v.last_seen_at},
                                                          {",\"idle_expires_at\":", v.idle_expires_at},
                                                          {",\"expires_at\":", v.expires_at},
                                                          {",\"version\":", v.version}};
  for (const auto& [name, value] : numbers) {
    s += name;
    s += std::to_string(value);
  }
  s += "}";
  return s;
}

HttpResponse issued_response(const RequestContext& ctx, unsigned status, const sessions::Issued& out, bool with_evicted,
                             bool set_cookie) {
  json::object o{{"token", out.token},
                 {"session_id", out.view.session_id},
                 {"user_id", out.view.user_id},
                 {"created_at", out.view.created_at},
                 {"last_seen_at", out.view.last_seen_at},
                 {"idle_expires_at", out.view.idle_expires_at},
                 {"expires_at", out.view.expires_at},
                 {"version", out.view.version}};
  if (with_evicted) {
    json::array ev;
    for (const auto& id : out.evicted) ev.push_back(json::string(id));
    o["evicted"] = std::move(ev);
  }
  auto r = HttpResponse::json(status, o);
  if (set_cookie)
    r.headers.emplace_back("Set-Cookie", cookie(ctx.config, out.token, out.view.expires_at - out.view.last_seen_at));
  return r;
}

std::optional<std::int64_t> positive_int(const json::value& v) {
  if (v.is_int64() && v.as_int64() >= 1) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v.as_uint64());
  return std::nullopt;
}

std::string short_id(std::string_view sid) { return std::string(sid.substr(0, 12)); }

// POST /v1/sessions
awaitable<HttpResponse> create(RequestContext& ctx) {
  auto parsed = read_body(ctx, {"user_id", "data", "device", "ip", "idle_ttl", "absolute_ttl", "cookie"});
  if (auto* r = std::get_if<HttpResponse>(&parsed)) co_return std::move(*r);
  auto& body = std::get<json::object>(parsed);
  sessions::NewSession req;

  const auto* uid = body.if_contains("user_id");
  if (!uid || !uid->is_string()) co_return bad(ctx, "user_id is required and must be a string");
  if (!valid_user_id(uid->as_string()))
    co_return bad(ctx, "user_id must be 1-256 bytes of UTF-8 without control characters");
  req.user_id = std::string(uid->as_string());

  if (const auto* d = body.if_contains("data")) {
    if (!d->is_object()) co_return bad(ctx, "data must be an object");
    req.data_json = json::serialize(*d);
    if (req.data_json.size() > ctx.config.session_max_data_bytes)
      co_return error_response(errc::payload_too_large,
                               "data is larger than " + std::to_string(ctx.config.session_max_data_bytes) + " bytes");
  }
  if (const auto* d = body.if_contains("device")) {
    if (!d->is_object()) co_return bad(ctx, "device must be an object");
    req.device_json = json::serialize(*d);
    if (req.device_json.size() > kMaxDeviceBytes)
      co_return error_response(errc::payload_too_large, "device is larger than 2048 bytes");
  }
  if (const auto* ip = body.if_contains("ip")) {
    if (!ip->is_string()) co_return bad(ctx, "ip must be a string");
    req.ip = std::string(ip->as_string());
    if (req.ip.size() > 45 || !valid_ip(req.ip)) co_return bad(ctx, "ip must be an IPv4 or IPv6 address");
  }
  const auto& s = ctx.services.sessions.settings();
  if (const auto* t = body.if_contains("idle_ttl")) {
    auto v = positive_int(*t);
    if (!v) co_return bad(ctx, "idle_ttl must be a positive integer (seconds)");
    if (*v > s.max_idle_ttl)
      co_return bad(ctx, "idle_ttl exceeds the configured maximum of " + std::to_string(s.max_idle_ttl));
    req.idle_ttl = *v;
  }
  if (const auto* t = body.if_contains("absolute_ttl")) {
    auto v = positive_int(*t);
    if (!v) co_return bad(ctx, "absolute_ttl must be a positive integer (seconds)");
    if (*v > s.max_absolute_ttl)
      co_return bad(ctx, "absolute_ttl exceeds the configured maximum of " + std::to_string(s.max_absolute_ttl));
    req.absolute_ttl = *v;
  }
  bool want_cookie = false;
  if (const auto* c = body.if_contains("cookie")) {
    if (!c->is_bool()) co_return bad(ctx, "cookie must be a boolean");
    want_cookie = c->as_bool();
  }

  std::string who = req.user_id;
  auto out = co_await ctx.services.sessions.create(ctx.redis, std::move(req));
  if (!out) co_return engine_error(ctx, out.error());
  ctx.events.emit(events::Event(events::Type::session_created, who).with("session_id", out->view.session_id));
  for (const auto& e : out->evicted)
    ctx.events.emit(events::Event(events::Type::session_evicted, who, "evicted").with("session_id", e));
  std::string evicted;
  for (const auto& e : out->evicted) evicted += " " + short_id(e);
  log::event(log::Level::info, "session created " + short_id(out->view.session_id) +
                                   (evicted.empty() ? "" : "; evicted" + evicted) + " (request " + ctx.request_id +
                                   ")");
  co_return issued_response(ctx, 201, *out, true, want_cookie);
}

HttpResponse view_response(const sessions::View& v) {
  HttpResponse r;
  r.body = view_json(v);
  return r;
}

// POST /v1/sessions/validate
struct ValidateInput {
  std::string token;
  bool touch = true;
};

// The body, parsed into a buffer on this (ordinary) function's stack: inside the coroutine the
// buffer would make its frame too large for Asio's per-thread recycling, and every request
// would allocate it afresh (bench/profile validate).
std::variant<ValidateInput, HttpResponse> validate_input(const RequestContext& ctx) {
  unsigned char buffer[1024];
  json::monotonic_resource arena(buffer, sizeof buffer);
  auto parsed = read_body(ctx, {"token", "touch"}, &arena);
  if (auto* r = std::get_if<HttpResponse>(&parsed)) return std::move(*r);
  auto& body = std::get<json::object>(parsed);
  const auto* token = body.if_contains("token");
  if (!token || !token->is_string()) return bad(ctx, "token is required and must be a string");
  ValidateInput in{std::string(token->as_string())};
  if (const auto* t = body.if_contains("touch")) {
    if (!t->is_bool()) return bad(ctx, "touch must be a boolean");
    in.touch = t->as_bool();
  }
  return in;
}

awaitable<HttpResponse> validate(RequestContext& ctx) {
  auto in = validate_input(ctx);
  if (auto* r = std::get_if<HttpResponse>(&in)) co_return std::move(*r);
  auto& q = std::get<ValidateInput>(in);
  auto v = co_await ctx.services.sessions.validate(ctx.redis, std::move(q.token), q.touch);
  if (!v) co_return engine_error(ctx, v.error());
  co_return view_response(*v);
}

HttpResponse missing_token(const RequestContext& ctx) {
  return error_response(errc::invalid_session,
                        "no session token: send X-Session-Token or the " + ctx.config.session_cookie_name + " cookie");
}

// GET /v1/sessions/current
awaitable<HttpResponse> current(RequestContext& ctx) {
  auto token = presented_token(ctx);
  if (!token) co_return missing_token(ctx);
  auto v = co_await ctx.services.sessions.validate(ctx.redis, std::move(token->value), true);
  if (!v) co_return engine_error(ctx, v.error());
  co_return view_response(*v);
}

// PATCH /v1/sessions/current
awaitable<HttpResponse> update(RequestContext& ctx) {
  auto token = presented_token(ctx);
  if (!token) co_return missing_token(ctx);
  auto parsed = read_body(ctx, {"data", "version"});
  if (auto* r = std::get_if<HttpResponse>(&parsed)) co_return std::move(*r);
  auto& body = std::get<json::object>(parsed);
  const auto* d = body.if_contains("data");
  if (!d || !d->is_object()) co_return bad(ctx, "data is required and must be an object");
  std::string data_json = json::serialize(*d);
  if (data_json.size() > ctx.config.session_max_data_bytes)
    co_return error_response(errc::payload_too_large,
                             "data is larger than " + std::to_string(ctx.config.session_max_data_bytes) + " bytes");
  const auto* ver = body.if_contains("version");
  std::optional<std::int64_t> version = ver ? positive_int(*ver) : std::nullopt;
  if (!version) co_return bad(ctx, "version is required and must be a positive integer");
  auto v = co_await ctx.services.sessions.update(ctx.redis, std::move(token->value), std::move(data_json), *version);
  if (!v) co_return engine_error(ctx, v.error());
  co_return view_response(*v);
}

// POST /v1/sessions/current/rotate
awaitable<HttpResponse> rotate(RequestContext& ctx) {
  auto token = presented_token(ctx);
  if (!token) co_return missing_token(ctx);
  auto out = co_await ctx.services.sessions.rotate(ctx.redis, std::move(token->value));
  if (!out) co_return engine_error(ctx, out.error());
  ctx.events.emit(
      events::Event(events::Type::session_rotated, out->view.user_id).with("session_id", out->view.session_id));
  log::event(log::Level::info,
             "session rotated to " + short_id(out->view.session_id) + " (request " + ctx.request_id + ")");
  co_return issued_response(ctx, 200, *out, false, token->from_cookie);
}

// DELETE /v1/sessions/current
awaitable<HttpResponse> destroy(RequestContext& ctx) {
  auto token = presented_token(ctx);
  if (!token) co_return missing_token(ctx);
  std::string sid = sessions::session_id_of(token->value);
  auto r = co_await ctx.services.sessions.destroy(ctx.redis, std::move(token->value));
  if (!r) co_return engine_error(ctx, r.error());
  ctx.events.emit(events::Event(events::Type::session_destroyed).with("session_id", sid));
  auto resp = HttpResponse::empty(204);
  // Logout clears the cookie too (OWASP session cheat sheet).
  resp.headers.emplace_back("Set-Cookie", cookie(ctx.config, "", 0));
  co_return resp;
}

// GET /v1/users/{user_id}/sessions
awaitable<HttpResponse> list(RequestContext& ctx) {
  auto user = user_param(ctx);
  if (!user) co_return bad(ctx, kBadUserParam);
  auto items = co_await ctx.services.sessions.list(ctx.redis, std::move(*user));
  if (!items) co_return engine_error(ctx, items.error());
  std::string body = "{\"sessions\":[";
  bool first = true;
  for (const auto& s : *items) {
    std::string o = json::serialize(json::object{{"session_id", s.session_id},
                                                 {"created_at", s.created_at},
                                                 {"last_seen_at", s.last_seen_at},
                                                 {"idle_expires_at", s.idle_expires_at},
                                                 {"expires_at", s.expires_at},
                                                 {"ip", s.ip}});
    o.insert(1, "\"device\":" + s.device_json + ",");
    if (!first) body += ",";
    body += o;
    first = false;
  }
  body += "]}";
  HttpResponse r;
  r.body = std::move(body);
  co_return r;
}

// DELETE /v1/users/{user_id}/sessions[?except=<session_id>]
awaitable<HttpResponse> destroy_all(RequestContext& ctx) {
  auto user = user_param(ctx);
  if (!user) co_return bad(ctx, kBadUserParam);
  std::string except;
  if (auto e = query_param(ctx.request.query, "except")) {
    if (!sessions::valid_session_id(*e)) co_return bad(ctx, "except must be a session_id");
    except = std::move(*e);
  }
  std::string who = *user;
  auto n = co_await ctx.services.sessions.destroy_all(ctx.redis, std::move(*user), std::move(except));
  if (!n) co_return engine_error(ctx, n.error());
  ctx.events.emit(events::Event(events::Type::logout_everywhere, who).with("count", std::to_string(*n)));
  log::event(log::Level::info,
             "sessions revoked for a user: " + std::to_string(*n) + " (request " + ctx.request_id + ")");
  co_return HttpResponse::json(200, json::object{{"revoked", *n}});
}

// DELETE /v1/users/{user_id}/sessions/{session_id}
awaitable<HttpResponse> destroy_one(RequestContext& ctx) {
  auto user = user_param(ctx);
  if (!user) co_return bad(ctx, kBadUserParam);
  std::string who = *user, sid(ctx.param("session_id"));
  auto r = co_await ctx.services.sessions.destroy_one(ctx.redis, std::move(*user), sid);
  if (!r) {
    if (r.error() == make_error_code(errc::not_found))
      co_return error_response(errc::not_found, "this user has no live session with that id");
    co_return engine_error(ctx, r.error());
  }
  ctx.events.emit(events::Event(events::Type::session_destroyed, who, "revoked").with("session_id", sid));
  co_return HttpResponse::empty(204);
}

}  // namespace

void add_sessions(Router& r) {
  r.add("POST", "/v1/sessions", Access::admin, admin_listener, create);
  r.add("POST", "/v1/sessions/validate", Access::admin, admin_listener, validate);
  r.add("GET", "/v1/sessions/current", Access::admin, admin_listener, current);
  r.add("PATCH", "/v1/sessions/current", Access::admin, admin_listener, update);
  r.add("DELETE", "/v1/sessions/current", Access::admin, admin_listener, destroy);
  r.add("POST", "/v1/sessions/current/rotate", Access::admin, admin_listener, rotate);
  r.add("GET", "/v1/users/{user_id}/sessions", Access::admin_read, admin_listener, list);
  r.add("DELETE", "/v1/users/{user_id}/sessions", Access::admin, admin_listener, destroy_all);
  r.add("DELETE", "/v1/users/{user_id}/sessions/{session_id}", Access::admin, admin_listener, destroy_one);
}

}  // namespace latchkey::server::handlers
