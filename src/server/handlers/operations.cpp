// Operations endpoints: liveness, readiness (a real script round trip to Redis on this shard,
// so a lost script cache or a refusing server shows, and every other shard's connection
// state), Prometheus metrics, and the OpenAPI document. No authentication.
#include "server/routes.hpp"
#include "server/services.hpp"

#include "latchkey/clock.hpp"
#include "latchkey/config.hpp"
#include "latchkey/key_schema.hpp"
#include "latchkey/log.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/redis/connection.hpp"
#include "latchkey/version.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace latchkey::server {
std::string_view openapi_json() noexcept;  // generated from docs/openapi.yaml (cmake/openapi_to_cpp.py)
}  // namespace latchkey::server

namespace latchkey::server::handlers {
namespace {

boost::asio::awaitable<HttpResponse> healthz(RequestContext&) {
  co_return HttpResponse::json(200, boost::json::object{{"status", "ok"}});
}

boost::asio::awaitable<HttpResponse> readyz(RequestContext& ctx) {
  // g++ 12 miscompiles braced lists inside a co_await expression ("array used as
  // initializer"): build arguments before awaiting.
  std::vector<std::string> keys(1, key_schema::readiness_probe(ctx.config.key_prefix));
  auto r = co_await ctx.redis.eval("ping", std::move(keys), std::vector<std::string>());
  if (!r || !r->is_array()) {
    co_return error_response(
        errc::unavailable, "redis is unreachable or not answering (shard " + std::to_string(ctx.metrics.shard()) + ")",
        ctx.config.retry_after_seconds);
  }
  // Every other shard's connection too: a request served by a healthy shard must not call
  // the process ready while another shard (and the connections the kernel gives it) is not.
  for (const Metrics* shard : ctx.all_metrics) {
    if (shard == &ctx.metrics || shard->redis_up()) continue;
    co_return error_response(errc::unavailable, "redis is unreachable from shard " + std::to_string(shard->shard()),
                             ctx.config.retry_after_seconds);
  }
  // The node this shard uses (under Sentinel: the master it was given) and the failovers seen.
  boost::json::object redis{{"endpoint", ctx.redis.current_endpoint()}, {"master_changes", ctx.redis.master_changes()}};
  co_return HttpResponse::json(
      200, boost::json::object{{"status", "ready"}, {"shards", ctx.all_metrics.size()}, {"redis", std::move(redis)}});
}

// GET /v1/server (admin): what this server is and whether its shard reaches Redis, with the
// Redis server's clock as read through a script (the same probe as /readyz); the token issuer
// and the session cookie name, which client libraries check and read.
boost::asio::awaitable<HttpResponse> server_info(RequestContext& ctx) {
  std::vector<std::string> keys(1, key_schema::readiness_probe(ctx.config.key_prefix));
  auto r = co_await ctx.redis.eval("ping", std::move(keys), std::vector<std::string>());
  boost::json::object redis{{"endpoint", ctx.redis.current_endpoint()}, {"ready", r && r->is_array()}};
  if (r && r->is_array() && r->elements.size() == 2) {
    const std::string& t = r->elements[0].str;
    std::int64_t seconds = 0;
    if (std::from_chars(t.data(), t.data() + t.size(), seconds).ec == std::errc()) redis["time"] = seconds;
  }
  // The signing ring without secrets: which key signs now, which verify, until when.
  const auto& ring = ctx.services.tokens.signing_ring();
  const auto now = unix_now();
  const std::string signer(ring.signer(now).kid());
  boost::json::array signing_keys;
  for (const auto& k : ring.keys())
    signing_keys.push_back(boost::json::object{{"kid", k.key.kid()},
                                               {"alg", crypto::jws::alg_name(k.key.alg())},
                                               {"created_at", k.created_at},
                                               {"activates_at", k.activates_at},
                                               {"expires_at", k.expires_at},
                                               {"signing", k.key.kid() == signer},
                                               {"expired", k.expired(now)}});
  co_return HttpResponse::json(200, boost::json::object{{"name", "latchkey"},
                                                        {"version", LATCHKEY_VERSION},
                                                        {"threads", ctx.config.effective_threads()},
                                                        {"token_issuer", ctx.config.token_issuer},
                                                        {"session_cookie_name", ctx.config.session_cookie_name},
                                                        {"redis", std::move(redis)},
                                                        {"signing_keys", std::move(signing_keys)}});
}

// POST /v1/server/reload (admin): what SIGHUP does, for operators without signals. 200 either
// way: {"reloaded":true,"in_force":...}, or {"reloaded":false,"refused":...} with the old
// rings and certificates still in force.
boost::asio::awaitable<HttpResponse> reload(RequestContext& ctx) {
  if (!ctx.reload) co_return error_response(errc::internal, "no server to reload");
  std::string summary;
  auto refused = (*ctx.reload)(&summary);
  if (refused) {
    log::event(log::Level::error, "reload (request " + ctx.request_id +
                                      ") refused, the previous rings and "
                                      "certificates stay in force: " +
                                      *refused);
    co_return HttpResponse::json(200, boost::json::object{{"reloaded", false}, {"refused", *refused}});
  }
  log::event(log::Level::info, "reloaded (request " + ctx.request_id + "): " + summary);
  co_return HttpResponse::json(200, boost::json::object{{"reloaded", true}, {"in_force", summary}});
}

boost::asio::awaitable<HttpResponse> metrics(RequestContext& ctx) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = Metrics::render(ctx.all_metrics);
  co_return r;
}

// GET /openapi.json: docs/openapi.yaml as built into this binary (the contract it serves).
boost::asio::awaitable<HttpResponse> openapi(RequestContext&) {
  HttpResponse r;
  r.body = std::string(openapi_json());
  r.headers.emplace_back("Cache-Control", "public, max-age=300");
  co_return r;
}

}  // namespace

void add_operations(Router& r) {
  r.add("GET", "/healthz", Access::public_, every_listener, healthz);
  r.add("GET", "/readyz", Access::public_, every_listener, readyz);
  r.add("GET", "/metrics", Access::public_, metrics_listener, metrics);
  r.add("GET", "/openapi.json", Access::public_, every_listener, openapi);
  r.add("GET", "/v1/server", Access::admin_read, admin_listener, server_info);
  r.add("POST", "/v1/server/reload", Access::admin, admin_listener, reload);
}

}  // namespace latchkey::server::handlers
