// The console's routes (login, session, logout, its files) and how the admin API recognises
// its session. See console.hpp for the shape.
#include "server/console/console.hpp"

#include "server/handlers/common.hpp"
#include "server/router.hpp"
#include "server/services.hpp"

#include "latchkey/clock.hpp"
#include "latchkey/config.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/log.hpp"

#include <boost/json.hpp>

namespace latchkey::server::console {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;
using handlers::bad;

// The lockout account of console logins from an address: each address has its own, so a
// wrong key from one address never locks the console for the others.
std::string account_of(const HttpRequest& req) { return "console@" + req.remote; }

std::string set_cookie(std::string_view token, std::int64_t max_age) {
  return std::string(kCookie) + "=" + std::string(token) + "; Path=/; Max-Age=" + std::to_string(max_age) +
         "; HttpOnly; Secure; SameSite=Strict";
}

// What a console session holds (sealed at rest like every session's data).
struct Held {
  AdminGrant grant = AdminGrant::none;
  std::string csrf;
};

// Binds a console session's grant and CSRF token to the server's identifier key: a session
// created through POST /v1/sessions with the same user id and data is not a console session.
std::string proof_of(const Services& services, std::string_view grant, std::string_view csrf) {
  return services.identifiers.of("console-session", std::string(grant) + '\0' + std::string(csrf));
}

Held held_of(const Services& services, const sessions::View& v) {
  Held h;
  if (v.user_id != kUser) return h;
  std::error_code ec;
  auto d = json::parse(v.data_json, ec);
  if (ec || !d.is_object()) return h;
  const auto* g = d.as_object().if_contains("grant");
  const auto* c = d.as_object().if_contains("csrf");
  const auto* p = d.as_object().if_contains("proof");
  if (!g || !g->is_string() || !c || !c->is_string() || c->as_string().size() < 32 || !p || !p->is_string() ||
      !crypto::constant_time_equal(p->as_string(), proof_of(services, g->as_string(), c->as_string())))
    return h;
  if (g->as_string() == grant_name(AdminGrant::full))
    h.grant = AdminGrant::full;
  else if (g->as_string() == grant_name(AdminGrant::read_only))
    h.grant = AdminGrant::read_only;
  h.csrf = std::string(c->as_string());
  return h;
}

json::object session_json(const sessions::View& v, const Held& h) {
  return json::object{{"grant", grant_name(h.grant)},
                      {"csrf_token", h.csrf},
                      {"session_id", v.session_id},
                      {"idle_expires_at", v.idle_expires_at},
                      {"expires_at", v.expires_at}};
}

HttpResponse no_session() { return error_response(errc::unauthorized, "no console session: log in"); }

// The live console session of this request, or the answer that says why not.
// The request's console session: its cookie, validated (sliding its idle deadline) and proved.
// `view` fails with invalid_session when there is none, or with what Redis said.
struct Found {
  std::string token;
  result<sessions::View> view = make_error_code(errc::invalid_session);
  Held held;
};
awaitable<Found> find_session(const HttpRequest& req, const Services& services, redis::Connection& redis) {
  Found f;
  auto token = cookie_value(req, kCookie);
  if (!token) co_return f;
  f.token = std::string(*token);
  f.view = co_await services.sessions.validate(redis, f.token, true);
  if (f.view) f.held = held_of(services, *f.view);
  if (f.view && f.held.grant == AdminGrant::none) f.view = make_error_code(errc::invalid_session);
  co_return f;
}

bool csrf_ok(const HttpRequest& req, const Held& h) {
  return crypto::constant_time_equal(req.header("x-csrf-token"), h.csrf);
}

// The live console session of this request, or the answer that says why not.
awaitable<std::variant<Found, HttpResponse>> current(RequestContext& ctx) {
  Found f = co_await find_session(ctx.request, ctx.services, ctx.redis);
  if (!f.view) {
    if (f.view.error() == make_error_code(errc::invalid_session)) co_return no_session();
    co_return engine_error(ctx, f.view.error());
  }
  co_return f;
}

// POST /console/login {"key": "<admin API key>"}
awaitable<HttpResponse> login(RequestContext& ctx) {
  auto parsed = handlers::read_body(ctx, {"key"});
  if (auto* r = std::get_if<HttpResponse>(&parsed)) co_return std::move(*r);
  const auto* k = std::get<json::object>(parsed).if_contains("key");
  if (!k || !k->is_string() || k->as_string().empty() || k->as_string().size() > 512)
    co_return bad(ctx, "key is required: an admin API key (at most 512 bytes)");
  const std::string account = account_of(ctx.request);
  auto verdict = co_await ctx.services.logins.check(ctx.redis, account, ctx.request.remote, {});
  if (!verdict) co_return engine_error(ctx, verdict.error());
  if (!verdict->allowed) {
    events::Event e(events::Type::console_login_failure, account, "locked");
    e.ip = ctx.request.remote;
    ctx.events.emit(std::move(e));
    co_return handlers::login_refused(ctx, *verdict);
  }
  const AdminGrant grant = ctx.admin_keys ? ctx.admin_keys->of_key(k->as_string()) : AdminGrant::none;
  if (grant == AdminGrant::none) {
    auto f = co_await ctx.services.logins.failure(ctx.redis, account, ctx.request.remote, {});
    if (!f) co_return engine_error(ctx, f.error());
    handlers::login_failure_events(ctx, account, ctx.request.remote, *f, events::Type::console_login_failure);
    log::event(log::Level::warn,
               "console login refused from " + ctx.request.remote + " (request " + ctx.request_id + ")");
    co_return error_response(errc::unauthorized, "wrong admin API key");
  }
  if (auto s = co_await ctx.services.logins.success(ctx.redis, account, ctx.request.remote, {}); !s)
    co_return engine_error(ctx, s.error());
  sessions::NewSession ns;
  ns.user_id = std::string(kUser);
  const std::string csrf = crypto::random_token(32);
  ns.data_json =
      json::serialize(json::object{{"grant", grant_name(grant)},
                                   {"csrf", csrf},
                                   {"proof", proof_of(ctx.services, grant_name(grant), csrf)},
                                   // Which key it was (not the key): the first 8 hex digits of its SHA-256.
                                   {"key", crypto::hex_encode(crypto::sha256(k->as_string())).substr(0, 8)}});
  std::string agent(ctx.request.header("user-agent").substr(0, 200));
  if (!valid_user_id(agent)) agent.clear();
  ns.device_json = json::serialize(json::object{{"user_agent", agent}});
  ns.ip = ctx.request.remote;
  ns.idle_ttl = ctx.config.console_idle_ttl.count();
  ns.absolute_ttl = ctx.config.console_absolute_ttl.count();
  auto issued = co_await ctx.services.sessions.create(ctx.redis, std::move(ns));
  if (!issued) co_return engine_error(ctx, issued.error());
  events::Event e(events::Type::console_login, std::string(kUser), std::string(grant_name(grant)));
  e.with("session_id", issued->view.session_id);
  ctx.events.emit(std::move(e));
  log::event(log::Level::info, "console login (" + std::string(grant_name(grant)) + ") from " + ctx.request.remote +
                                   " (request " + ctx.request_id + ")");
  auto r = HttpResponse::json(200, session_json(issued->view, Held{grant, csrf}));
  r.headers.emplace_back("Set-Cookie", set_cookie(issued->token, ctx.config.console_absolute_ttl.count()));
  co_return r;
}

// GET /console/session: what the page needs after a reload (the CSRF token is not in the
// page: it has no inline script).
awaitable<HttpResponse> session(RequestContext& ctx) {
  auto c = co_await current(ctx);
  if (auto* r = std::get_if<HttpResponse>(&c)) co_return std::move(*r);
  const Found& f = std::get<Found>(c);
  co_return HttpResponse::json(200, session_json(*f.view, f.held));
}

// POST /console/logout (X-CSRF-Token)
awaitable<HttpResponse> logout(RequestContext& ctx) {
  auto c = co_await current(ctx);
  if (auto* r = std::get_if<HttpResponse>(&c)) co_return std::move(*r);
  Found& f = std::get<Found>(c);
  if (!csrf_ok(ctx.request, f.held))
    co_return error_response(errc::forbidden, "missing or wrong X-CSRF-Token for this session");
  if (auto d = co_await ctx.services.sessions.destroy(ctx.redis, std::move(f.token)); !d)
    co_return engine_error(ctx, d.error());
  auto r = HttpResponse::empty(204);
  r.headers.emplace_back("Set-Cookie", set_cookie("", 0));
  co_return r;
}

HttpResponse file(std::string_view name) {
  const Asset* a = asset(name);
  if (!a) return error_response(errc::not_found, "no such console file");
  HttpResponse r;
  r.content_type = std::string(a->content_type);
  r.body = std::string(a->body);
  return r;
}

awaitable<HttpResponse> index_page(RequestContext&) { co_return file("index.html"); }
awaitable<HttpResponse> console_file(RequestContext& ctx) { co_return file(ctx.param("asset")); }
awaitable<HttpResponse> to_console(RequestContext&) {
  auto r = HttpResponse::empty(302);
  r.headers.emplace_back("Location", "/console/");
  co_return r;
}

}  // namespace

void add_routes(Router& r) {
  r.add("GET", "/", Access::public_, console_listener, to_console);
  r.add("GET", "/console", Access::public_, console_listener, to_console);
  r.add("GET", "/console/", Access::public_, console_listener, index_page);
  r.add("POST", "/console/login", Access::public_, console_listener, login);
  r.add("GET", "/console/session", Access::public_, console_listener, session);
  r.add("POST", "/console/logout", Access::public_, console_listener, logout);
  r.add("GET", "/console/{asset}", Access::public_, console_listener, console_file);
}

awaitable<Authenticated> authenticate(const HttpRequest& req, bool write, const Services& services,
                                      redis::Connection& redis) {
  Authenticated out;
  Found f = co_await find_session(req, services, redis);
  if (!f.view) {
    out.unavailable = f.view.error() != make_error_code(errc::invalid_session);
    co_return out;
  }
  out.grant = f.held.grant;
  out.csrf_refused = write && !csrf_ok(req, f.held);
  co_return out;
}

void secure(HttpResponse& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

}  // namespace latchkey::server::console
