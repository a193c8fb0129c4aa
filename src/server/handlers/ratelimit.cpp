// /v1/ratelimit/check (JSON in and out, field validation and the rate-limit headers of
// draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy, RateLimit; Retry-After when
// denied). The decisions are ratelimit::Service's (src/engine/ratelimit/).
#include "server/handlers/common.hpp"
#include "server/routes.hpp"
#include "server/services.hpp"

#include "latchkey/clock.hpp"
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
  const ratelimit::Policy* policy = nullptr;
  ratelimit::Limit l;
  std::optional<std::int64_t> fields[4];
  const std::pair<const char*, std::int64_t> specs[4] = {{"limit", ratelimit::kMaxLimit},
                                                         {"window", ratelimit::kMaxWindowMs / 1000},
                                                         {"burst", ratelimit::kMaxLimit},
                                                         {"cost", ratelimit::kMaxLimit}};
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
    auto a = alg && alg->is_string() ? ratelimit::algorithm_from_name(alg->as_string()) : std::nullopt;
    if (!a) co_return bad(ctx, "algorithm is required: fixed_window, sliding_window or gcra (or a policy)");
    l.algorithm = *a;
    if (!fields[0] || !fields[1]) co_return bad(ctx, "limit and window (seconds) are required (or a policy)");
    l.limit = *fields[0];
    l.window_ms = *fields[1] * 1000;
    l.burst = fields[2].value_or(0);
  }
  std::int64_t cost = fields[3].value_or(1);
  if (auto why = ratelimit::check_limit(l, cost)) co_return bad(ctx, *why);
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
  std::int64_t reset = ceil_seconds(d->reset_after_ms), retry = ceil_seconds(d->retry_after_ms);
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

}  // namespace

void add_ratelimit(Router& r) { r.add("POST", "/v1/ratelimit/check", Access::admin, admin_listener, check); }

}  // namespace latchkey::server::handlers
