// /v1/ratelimit/check (JSON in and out, field validation and the rate-limit headers of
// draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy, RateLimit; Retry-After when
// denied), /v1/logins/check|failure|success and /v1/users/{user_id}/lockout. The decisions
// are guard::RateLimiter's and guard::Logins' (src/engine/guard/).
#include "common.hpp"
#include "../routes.hpp"
#include "../services.hpp"

#include "latchkey/metrics.hpp"

#include <boost/json.hpp>

namespace latchkey::server::handlers {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;

constexpr std::size_t kMaxKeyBytes = 512;

// An optional positive integer field; nullopt when absent; the error response when invalid.
std::variant<std::optional<std::int64_t>, HttpResponse> int_field(const RequestContext& ctx, const json::object& body,
                                                                  const char* name, std::int64_t max) {
  const auto* v = body.if_contains(name);
  if (!v) return std::optional<std::int64_t>{};
  if (!v->is_int64() && !v->is_uint64())
    return bad(ctx, std::string(name) + " must be an integer 1-" + std::to_string(max));
  auto n =
      v->is_int64() ? v->as_int64() : static_cast<std::int64_t>(std::min<std::uint64_t>(v->as_uint64(), INT64_MAX));
  if (n < 1 || n > max) return bad(ctx, std::string(name) + " must be an integer 1-" + std::to_string(max));
  return std::optional<std::int64_t>(n);
}

// POST /v1/ratelimit/check
awaitable<HttpResponse> check(RequestContext& ctx) {
  auto parsed = read_body(ctx, {"key", "policy", "limit", "window", "algorithm", "burst", "cost"});
  if (auto* r = std::get_if<HttpResponse>(&parsed)) co_return std::move(*r);
  auto& body = std::get<json::object>(parsed);
  const auto* key = body.if_contains("key");
  if (!key || !key->is_string() || key->as_string().empty() || key->as_string().size() > kMaxKeyBytes)
    co_return bad(ctx, "key is required: a string of 1-512 bytes");
  const guard::Policy* policy = nullptr;
  guard::Limit l;
  std::optional<std::int64_t> fields[4];
  const std::pair<const char*, std::int64_t> specs[4] = {{"limit", guard::kMaxLimit},
                                                         {"window", guard::kMaxWindowMs / 1000},
                                                         {"burst", guard::kMaxLimit},
                                                         {"cost", guard::kMaxLimit}};
  for (int i = 0; i < 4; ++i) {
    auto f = int_field(ctx, body, specs[i].first, specs[i].second);
    if (auto* r = std::get_if<HttpResponse>(&f)) co_return std::move(*r);
    fields[i] = std::get<std::optional<std::int64_t>>(f);
  }
  if (const auto* p = body.if_contains("policy")) {
    if (!p->is_string()) co_return bad(ctx, "policy must be a string");
    policy = ctx.services.ratelimit.policy(p->as_string());
    if (!policy) co_return bad(ctx, "unknown policy (ratelimit_policies)");
    if (fields[0] || fields[1] || fields[2] || body.contains("algorithm"))
      co_return bad(ctx, "send either policy or limit, window, algorithm (and burst)");
    l = policy->limit;
  } else {
    const auto* alg = body.if_contains("algorithm");
    auto a = alg && alg->is_string() ? guard::algorithm_from_name(alg->as_string()) : std::nullopt;
    if (!a) co_return bad(ctx, "algorithm is required: fixed_window, sliding_window or gcra (or a policy)");
    l.algorithm = *a;
    if (!fields[0] || !fields[1]) co_return bad(ctx, "limit and window (seconds) are required (or a policy)");
    l.limit = *fields[0];
    l.window_ms = *fields[1] * 1000;
    l.burst = fields[2].value_or(0);
  }
  std::int64_t cost = fields[3].value_or(1);
  if (auto why = guard::check_limit(l, cost)) co_return bad(ctx, *why);
  const std::string name = policy ? policy->name : "adhoc";
  // Policies and ad-hoc limits never share a counter.
  std::string scope = policy ? "p:" + name : "a";
  auto d = co_await ctx.services.ratelimit.check(ctx.redis, std::move(scope), std::string(key->as_string()), l, cost);
  if (!d) {
    bool down = d.error() != make_error_code(errc::invalid_request) && d.error() != make_error_code(errc::internal);
    if (!(down && policy && policy->fail_open)) co_return engine_error(ctx, d.error());
    // An explicit choice of this policy: admit while the store is unavailable, and say so.
    ctx.metrics.observe_ratelimit(name, "fail_open");
    co_return HttpResponse::json(200, json::object{{"allowed", true},
                                                   {"limit", l.limit},
                                                   {"remaining", l.limit},
                                                   {"reset_after", 0},
                                                   {"retry_after", 0},
                                                   {"fail_open", true}});
  }
  std::int64_t reset = guard::ceil_seconds(d->reset_after_ms), retry = guard::ceil_seconds(d->retry_after_ms);
  bool shadow = policy && policy->shadow;
  ctx.metrics.observe_ratelimit(name, d->allowed ? "allowed" : shadow ? "shadow_denied" : "denied");
  bool allowed = d->allowed || shadow;
  json::object o{{"allowed", allowed},
                 {"limit", d->limit},
                 {"remaining", d->remaining},
                 {"reset_after", reset},
                 {"retry_after", allowed ? 0 : retry}};
  if (shadow) o["shadow_denied"] = !d->allowed;  // what the policy would have decided
  if (!allowed) {
    o["error"] = "rate_limited";
    o["error_description"] = "rate limit exceeded; retry after " + std::to_string(retry) + " s";
  }
  auto r = HttpResponse::json(allowed ? 200 : 429, o);
  r.headers.emplace_back("RateLimit-Policy",
                         "\"" + name + "\";q=" + std::to_string(l.limit) + ";w=" + std::to_string(l.window_ms / 1000));
  r.headers.emplace_back("RateLimit",
                         "\"" + name + "\";r=" + std::to_string(d->remaining) + ";t=" + std::to_string(reset));
  if (!allowed) r.headers.emplace_back("Retry-After", std::to_string(retry));
  co_return r;
}

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
  if (ctx.services.logins.settings().canonical_user_id && !guard::canonical_account(in.user_id))
    return bad(ctx, "user_id must not be blank");
  const auto* ip = body.if_contains("ip");
  if (!ip || !ip->is_string() || !guard::canonical_address(ip->as_string(), ctx.services.logins.settings().ipv6_prefix))
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
  std::int64_t retry = guard::ceil_seconds(v->retry_after_ms);
  Failure refused(v->ip_blocked ? errc::rate_limited : errc::account_locked,
                  v->busy         ? (v->ip_blocked ? "too many login attempts in progress from this address"
                                                   : "too many login attempts in progress for this account")
                  : v->ip_blocked ? "too many failed logins from this address"
                                  : "too many failed logins");
  auto r = engine_error(
      ctx, refused,
      json::object{
          {"allowed", false}, {"retry_after", retry}, {"locked_until", guard::ceil_seconds(v->locked_until_ms)}});
  r.headers.emplace_back("Retry-After", std::to_string(retry));
  co_return r;
}

// POST /v1/logins/failure
awaitable<HttpResponse> login_failure(RequestContext& ctx) {
  auto in = login_input(ctx);
  if (auto* r = std::get_if<HttpResponse>(&in)) co_return std::move(*r);
  auto& q = std::get<LoginInput>(in);
  auto f = co_await ctx.services.logins.failure(ctx.redis, q.user_id, q.ip, q.device_token);
  if (!f) co_return engine_error(ctx, f.error());
  co_return HttpResponse::json(200, json::object{{"failures", f->failures},
                                                 {"locked", f->locked},
                                                 {"retry_after", guard::ceil_seconds(f->retry_after_ms)}});
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
                                                 {"locked_until", guard::ceil_seconds(st->locked_until_ms)}});
}

// DELETE /v1/users/{user_id}/lockout
awaitable<HttpResponse> lockout_delete(RequestContext& ctx) {
  auto user = user_param(ctx);
  if (!user) co_return bad(ctx, kBadUserParam);
  auto r = co_await ctx.services.logins.unlock(ctx.redis, *user);
  if (!r) co_return engine_error(ctx, r.error());
  co_return HttpResponse::empty(204);
}

}  // namespace

void add_guard(Router& r) {
  r.add("POST", "/v1/ratelimit/check", Access::admin, admin_listener, check);
  r.add("POST", "/v1/logins/check", Access::admin, admin_listener, login_check);
  r.add("POST", "/v1/logins/failure", Access::admin, admin_listener, login_failure);
  r.add("POST", "/v1/logins/success", Access::admin, admin_listener, login_success);
  r.add("GET", "/v1/users/{user_id}/lockout", Access::admin_read, admin_listener, lockout_get);
  r.add("DELETE", "/v1/users/{user_id}/lockout", Access::admin, admin_listener, lockout_delete);
}

}  // namespace latchkey::server::handlers
