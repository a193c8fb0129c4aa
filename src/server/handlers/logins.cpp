// /v1/logins/check|failure|success and /v1/users/{user_id}/lockout. The decisions are
// logins::Service's (src/engine/logins/).
#include "server/handlers/common.hpp"
#include "server/routes.hpp"
#include "server/services.hpp"

#include "latchkey/clock.hpp"
#include "latchkey/metrics.hpp"

#include <boost/json.hpp>

namespace latchkey::server::handlers {

HttpResponse login_refused(const RequestContext& ctx, const logins::Verdict& v) {
  std::int64_t retry = ceil_seconds(v.retry_after_ms);
  Failure refused(v.ip_blocked ? errc::rate_limited : errc::account_locked,
                  v.busy         ? (v.ip_blocked ? "too many login attempts in progress from this address"
                                                 : "too many login attempts in progress for this account")
                  : v.ip_blocked ? "too many failed logins from this address"
                                 : "too many failed logins");
  auto r = boost::json::object{
      {"allowed", false}, {"retry_after", retry}, {"locked_until", ceil_seconds(v.locked_until_ms)}};
  auto out = engine_error(ctx, refused, std::move(r));
  out.headers.emplace_back("Retry-After", std::to_string(retry));
  return out;
}

void login_failure_events(const RequestContext& ctx, const std::string& user_id, const std::string& ip,
                          const logins::FailureResult& f, events::Type failure_type) {
  auto ev = [&](events::Type t, std::string outcome) {
    events::Event e(t, user_id, std::move(outcome));
    e.ip = ip;
    e.with("failures", std::to_string(f.failures));
    if (f.locked) e.with("locked_until", std::to_string(ceil_seconds(f.locked_until_ms)));
    ctx.events.emit(std::move(e));
  };
  ev(failure_type, f.locked ? "locked" : "refused");
  if (f.locked && f.failures > 0) ev(events::Type::lockout, "locked");
  if (f.ip_blocked) {
    events::Event e(events::Type::ip_blocked, {}, "blocked");
    e.ip = ip;
    e.with("locked_until", std::to_string(ceil_seconds(f.ip_blocked_until_ms)));
    ctx.events.emit(std::move(e));
  }
}

namespace {

namespace json = boost::json;
using boost::asio::awaitable;

// The fields of a login report: user_id, ip (required), device_token (optional).
struct LoginInput {
  std::string user_id, ip, device_token;
};
std::variant<LoginInput, HttpResponse> login_input(RequestContext& ctx) {
  auto parsed = read_body(ctx, {"user_id", "ip", "device_token"});
  if (auto* r = std::get_if<HttpResponse>(&parsed)) return std::move(*r);
  auto& body = std::get<json::object>(parsed);
  LoginInput in;
  const auto* u = body.if_contains("user_id");
  if (!u || !u->is_string() || !valid_user_id(u->as_string()))
    return bad(ctx, "user_id is required: 1-256 bytes of UTF-8 without control characters");
  in.user_id = std::string(u->as_string());
  if (ctx.services.logins.settings().canonical_user_id && !canonical_account(in.user_id))
    return bad(ctx, "user_id must not be blank");
  const auto* ip = body.if_contains("ip");
  if (!ip || !ip->is_string() || !canonical_address(ip->as_string(), ctx.services.logins.settings().ipv6_prefix))
    return bad(ctx, "ip is required: an IPv4 or IPv6 address");
  in.ip = std::string(ip->as_string());
  if (const auto* d = body.if_contains("device_token")) {
    if (!d->is_string() || d->as_string().size() > 128)
      return bad(ctx, "device_token must be a string (at most 128 bytes)");
    in.device_token = std::string(d->as_string());
  }
  return in;
}

// POST /v1/logins/check
awaitable<HttpResponse> login_check(RequestContext& ctx) {
  auto in = login_input(ctx);
  if (auto* r = std::get_if<HttpResponse>(&in)) co_return std::move(*r);
  auto& q = std::get<LoginInput>(in);
  auto v = co_await ctx.services.logins.check(ctx.redis, q.user_id, q.ip, q.device_token);
  if (!v) co_return engine_error(ctx, v.error());
  if (v->allowed) co_return HttpResponse::json(200, json::object{{"allowed", true}});
  co_return login_refused(ctx, *v);
}

// POST /v1/logins/failure
awaitable<HttpResponse> login_failure(RequestContext& ctx) {
  auto in = login_input(ctx);
  if (auto* r = std::get_if<HttpResponse>(&in)) co_return std::move(*r);
  auto& q = std::get<LoginInput>(in);
  auto f = co_await ctx.services.logins.failure(ctx.redis, q.user_id, q.ip, q.device_token);
  if (!f) co_return engine_error(ctx, f.error());
  login_failure_events(ctx, q.user_id, q.ip, *f, events::Type::login_failure);
  co_return HttpResponse::json(
      200,
      json::object{{"failures", f->failures}, {"locked", f->locked}, {"retry_after", ceil_seconds(f->retry_after_ms)}});
}

// POST /v1/logins/success
awaitable<HttpResponse> login_success(RequestContext& ctx) {
  auto in = login_input(ctx);
  if (auto* r = std::get_if<HttpResponse>(&in)) co_return std::move(*r);
  auto& q = std::get<LoginInput>(in);
  auto t = co_await ctx.services.logins.success(ctx.redis, q.user_id, q.ip, q.device_token);
  if (!t) co_return engine_error(ctx, t.error());
  co_return HttpResponse::json(200, json::object{{"device_token", *t}});
}

// GET /v1/users/{user_id}/lockout
awaitable<HttpResponse> lockout_get(RequestContext& ctx) {
  auto user = user_param(ctx);
  if (!user) co_return bad(ctx, kBadUserParam);
  auto st = co_await ctx.services.logins.state(ctx.redis, *user);
  if (!st) co_return engine_error(ctx, st.error());
  co_return HttpResponse::json(200, json::object{{"user_id", *user},
                                                 {"failures", st->failures},
                                                 {"lockouts", st->lockouts},
                                                 {"locked", st->locked_until_ms != 0},
                                                 {"locked_until", ceil_seconds(st->locked_until_ms)}});
}

// DELETE /v1/users/{user_id}/lockout
awaitable<HttpResponse> lockout_delete(RequestContext& ctx) {
  auto user = user_param(ctx);
  if (!user) co_return bad(ctx, kBadUserParam);
  auto r = co_await ctx.services.logins.unlock(ctx.redis, *user);
  if (!r) co_return engine_error(ctx, r.error());
  ctx.events.emit(events::Event(events::Type::unlock, *user));
  co_return HttpResponse::empty(204);
}

}  // namespace

void add_logins(Router& r) {
  r.add("POST", "/v1/logins/check", Access::admin, admin_listener, login_check);
  r.add("POST", "/v1/logins/failure", Access::admin, admin_listener, login_failure);
  r.add("POST", "/v1/logins/success", Access::admin, admin_listener, login_success);
  r.add("GET", "/v1/users/{user_id}/lockout", Access::admin_read, admin_listener, lockout_get);
  r.add("DELETE", "/v1/users/{user_id}/lockout", Access::admin, admin_listener, lockout_delete);
}

}  // namespace latchkey::server::handlers
