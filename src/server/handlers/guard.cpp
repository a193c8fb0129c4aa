// /v1/ratelimit/check: JSON in and out, field validation and the rate-limit headers
// (draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy, RateLimit; Retry-After when
// denied). The decision is guard::RateLimiter's (src/engine/guard/).
#include "common.hpp"
#include "../routes.hpp"
#include "../services.hpp"

#include <boost/json.hpp>

namespace latchkey::server::handlers {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;

constexpr std::size_t kMaxKeyBytes = 512;

// Whole seconds, rounded up (a client waiting this long is never early).
std::int64_t ceil_seconds(std::int64_t ms) { return (ms + 999) / 1000; }

// An optional positive integer field; nullopt when absent; the error response when invalid.
std::variant<std::optional<std::int64_t>, HttpResponse> int_field(const RequestContext& ctx, const json::object& body,
                                                                   const char* name, std::int64_t max) {
  const auto* v = body.if_contains(name);
  if (!v) return std::optional<std::int64_t>{};
  if (!v->is_int64() && !v->is_uint64())
    return bad(ctx, std::string(name) + " must be an integer 1-" + std::to_string(max));
  auto n = v->is_int64() ? v->as_int64() : static_cast<std::int64_t>(std::min<std::uint64_t>(v->as_uint64(), INT64_MAX));
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
  if (body.contains("policy"))
    co_return bad(ctx, "named policies are not configurable yet: send limit, window and algorithm");
  guard::Limit l;
  const auto* alg = body.if_contains("algorithm");
  auto a = alg && alg->is_string() ? guard::algorithm_from_name(alg->as_string()) : std::nullopt;
  if (!a) co_return bad(ctx, "algorithm is required: fixed_window, sliding_window or gcra");
  l.algorithm = *a;
  std::optional<std::int64_t> fields[4];
  const std::pair<const char*, std::int64_t> specs[4] = {
      {"limit", guard::kMaxLimit}, {"window", guard::kMaxWindowMs / 1000}, {"burst", guard::kMaxLimit}, {"cost", guard::kMaxLimit}};
  for (int i = 0; i < 4; ++i) {
    auto f = int_field(ctx, body, specs[i].first, specs[i].second);
    if (auto* r = std::get_if<HttpResponse>(&f)) co_return std::move(*r);
    fields[i] = std::get<std::optional<std::int64_t>>(f);
  }
  if (!fields[0] || !fields[1]) co_return bad(ctx, "limit and window (seconds) are required");
  l.limit = *fields[0];
  l.window_ms = *fields[1] * 1000;
  l.burst = fields[2].value_or(0);
  std::int64_t cost = fields[3].value_or(1);
  if (auto why = guard::check_limit(l, cost)) co_return bad(ctx, *why);

  auto d = co_await ctx.services.ratelimit.check(ctx.redis, std::string(key->as_string()), l, cost);
  if (!d) co_return engine_error(ctx, d.error());
  std::int64_t reset = ceil_seconds(d->reset_after_ms), retry = ceil_seconds(d->retry_after_ms);
  json::object o{{"allowed", d->allowed}, {"limit", d->limit},      {"remaining", d->remaining},
                 {"reset_after", reset},  {"retry_after", retry}};
  if (!d->allowed) {
    o["error"] = "rate_limited";
    o["error_description"] = "rate limit exceeded; retry after " + std::to_string(retry) + " s";
  }
  auto r = HttpResponse::json(d->allowed ? 200 : 429, o);
  r.headers.emplace_back("RateLimit-Policy", "\"adhoc\";q=" + std::to_string(d->limit) + ";w=" + std::to_string(l.window_ms / 1000));
  r.headers.emplace_back("RateLimit", "\"adhoc\";r=" + std::to_string(d->remaining) + ";t=" + std::to_string(reset));
  if (!d->allowed) r.headers.emplace_back("Retry-After", std::to_string(retry));
  co_return r;
}

}  // namespace

void add_guard(Router& r) { r.add("POST", "/v1/ratelimit/check", check); }

}  // namespace latchkey::server::handlers
