// Operations endpoints: liveness, readiness (a real script round trip to Redis, so a lost
// script cache or a refusing server shows), and Prometheus metrics. No authentication.
#include "../routes.hpp"

#include "latchkey/config.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/redis/connection.hpp"

#include <boost/json.hpp>

namespace latchkey::server::handlers {
namespace {

boost::asio::awaitable<HttpResponse> healthz(RequestContext&) {
  co_return HttpResponse::json(200, boost::json::object{{"status", "ok"}});
}

boost::asio::awaitable<HttpResponse> readyz(RequestContext& ctx) {
  // g++ 12 miscompiles braced lists inside a co_await expression ("array used as
  // initializer"): build arguments before awaiting.
  std::vector<std::string> keys(1, ctx.config.key_prefix + "probe:{readyz}");
  auto r = co_await ctx.redis.eval("ping", std::move(keys), std::vector<std::string>());
  if (!r || !r->is_array()) {
    co_return error_response(errc::unavailable, "redis is unreachable or not answering", ctx.config.retry_after_seconds);
  }
  co_return HttpResponse::json(200, boost::json::object{{"status", "ready"}});
}

boost::asio::awaitable<HttpResponse> metrics(RequestContext& ctx) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = Metrics::render(ctx.all_metrics);
  co_return r;
}

}  // namespace

void add_operations(Router& r) {
  r.add("GET", "/healthz", healthz);
  r.add("GET", "/readyz", readyz);
  r.add("GET", "/metrics", metrics);
}

}  // namespace latchkey::server::handlers
