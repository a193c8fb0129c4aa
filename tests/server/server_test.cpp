// The HTTP server over real sockets against a real Redis: routing, API keys, JSON errors,
// limits, deadlines, keep-alive, readiness, metrics and graceful shutdown.
#include "server/routes.hpp"
#include "server/server.hpp"

#include "latchkey/redis/connection.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"
#include "support/test_server.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <future>
#include <thread>

using namespace latchkey;
using namespace latchkey::server;
using test::http_request;
using test::HttpConnection;
using namespace std::chrono_literals;

namespace {

using test::kAdminKey;
const std::map<std::string, std::string> kAuth{{"Authorization", "Bearer " + kAdminKey}};

// Production routes plus two test-only ones: a slow handler (for drain tests) and a JSON
// echo under /v1 (for body-parsing and API-key tests).
Router test_routes() {
  Router r = make_routes();
  r.add("GET", "/test/slow", Access::public_, public_listener,
        [](RequestContext&) -> boost::asio::awaitable<HttpResponse> {
          boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 400ms);
          co_await t.async_wait(boost::asio::use_awaitable);
          co_return HttpResponse::json(200, boost::json::object{{"slow", true}});
        });
  r.add("POST", "/v1/test/echo", Access::admin, admin_listener,
        [](RequestContext& ctx) -> boost::asio::awaitable<HttpResponse> {
          std::string why;
          auto body = parse_json_object(ctx.request, why);
          if (!body) co_return error_response(static_cast<errc>(body.error().value()), why);
          co_return HttpResponse::json(200, boost::json::object{{"echo", *body}});
        });
  return r;
}

// Tight limits and deadlines, so the limit and slow-client tests run fast.
Config server_test_config(const test::RedisServer& rs) {
  Config c = test::test_config(rs);
  c.max_body_bytes = 2048;
  c.max_header_bytes = 2048;
  c.read_timeout = 500ms;
  c.idle_timeout = 800ms;
  return c;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server = std::make_unique<Server>(server_test_config(rs), test::test_secrets(), test_routes());
    auto err = server->start();
    ASSERT_FALSE(err) << *err;
    port = server->port();
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!server->redis_ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(server->redis_ready());
  }
  void TearDown() override {
    if (server) {
      server->request_stop();
      server->wait();
    }
  }
  static boost::json::value json(const test::HttpResult& r) { return boost::json::parse(r.body); }
  static void expect_error(const test::HttpResult& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    ASSERT_EQ(r.header("content-type"), "application/json");
    auto v = json(r);
    EXPECT_EQ(v.at("error").as_string(), code) << r.body;
    EXPECT_TRUE(v.at("error_description").is_string());
  }

  test::RedisServer rs;
  std::unique_ptr<Server> server;
  std::uint16_t port = 0;
};

}  // namespace

TEST_F(ServerTest, HealthzAndRequestIds) {
  auto r = http_request(port, "GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json(r).at("status").as_string(), "ok");
  EXPECT_FALSE(r.header("x-request-id").empty());
  EXPECT_EQ(r.header("cache-control"), "no-store");
  auto echoed = http_request(port, "GET", "/healthz", "", {{"X-Request-Id", "abc-123"}});
  EXPECT_EQ(echoed.header("x-request-id"), "abc-123");
  auto unsafe = http_request(port, "GET", "/healthz", "", {{"X-Request-Id", "bad id\" injected"}});
  // An unsafe incoming id is replaced by a generated one (hex prefix, '-', counter).
  std::string replaced = unsafe.header("x-request-id");
  EXPECT_FALSE(replaced.empty());
  EXPECT_EQ(replaced.find_first_not_of("0123456789abcdef-"), std::string::npos) << replaced;
}

// GET /openapi.json: the document built into the binary, as JSON, naming every production
// route with its method (tests/openapi/coverage.py checks the YAML the same way, and more).
TEST_F(ServerTest, OpenApiDocumentNamesEveryRoute) {
  auto r = http_request(port, "GET", "/openapi.json");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("cache-control"), "public, max-age=300");
  auto doc = json(r);
  EXPECT_EQ(doc.at("openapi").as_string(), "3.1.0");
  const auto& paths = doc.at("paths").as_object();
  const Router production = make_routes();
  for (const auto& route : production.routes()) {
    if (route.listeners == console_listener) continue;  // the console's own (docs/api.md "Console")
    auto it = paths.find(route.pattern);
    ASSERT_NE(it, paths.end()) << route.pattern;
    std::string method = route.method;
    for (auto& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_TRUE(it->value().as_object().contains(method)) << route.method << " " << route.pattern;
  }
  // The security schemes are published with it (public: it names no secret).
  EXPECT_EQ(doc.at("components").at("securitySchemes").at("adminKey").at("scheme").as_string(), "bearer");
}

TEST_F(ServerTest, ReadyzFollowsRedisAndRecoversWithoutRestart) {
  EXPECT_EQ(http_request(port, "GET", "/readyz").status, 200);
  rs.kill();
  auto down = http_request(port, "GET", "/readyz");
  expect_error(down, 503, "unavailable");
  EXPECT_EQ(down.header("retry-after"), "1");
  EXPECT_EQ(http_request(port, "GET", "/healthz").status, 200) << "liveness does not depend on Redis";
  rs.start();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    // Both shards must recover: ask several times over fresh connections.
    int ok = 0;
    for (int i = 0; i < 6; ++i) ok += http_request(port, "GET", "/readyz").status == 200;
    if (ok == 6) {
      status = 200;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, 200);
}

TEST_F(ServerTest, ReadyzSurvivesScriptFlush) {
  EXPECT_EQ(http_request(port, "GET", "/readyz").status, 200);
  EXPECT_EQ(rs.command({"SCRIPT", "FLUSH"}), "OK");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(http_request(port, "GET", "/readyz").status, 200);
}

// Regression: a scrape right after a response arrived missed it (the metric was recorded
// after the write; the next request could land on the other shard first).
TEST_F(ServerTest, MetricsCountRequestsAndRedisCalls) {
  http_request(port, "GET", "/healthz");
  http_request(port, "GET", "/readyz");
  http_request(port, "GET", "/nope");
  auto m = http_request(port, "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.header("content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(m.body.find("latchkey_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("latchkey_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"),
            std::string::npos);
  EXPECT_NE(m.body.find("latchkey_http_request_duration_seconds_bucket{route=\"/readyz\""), std::string::npos);
  EXPECT_NE(m.body.find("latchkey_redis_calls_total{op=\"script:ping\"} 1"), std::string::npos);
  EXPECT_NE(m.body.find("latchkey_redis_errors_total{op=\"script:ping\"} 0"), std::string::npos);
  EXPECT_NE(m.body.find("latchkey_redis_call_duration_seconds_bucket{op=\"script:ping\""), std::string::npos);
}

TEST_F(ServerTest, ServerInfoNeedsTheApiKeyAndReportsRedis) {
  expect_error(http_request(port, "GET", "/v1/server"), 401, "unauthorized");
  auto r = http_request(port, "GET", "/v1/server", "", kAuth);
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = json(r);
  EXPECT_EQ(v.at("name").as_string(), "latchkey");
  EXPECT_TRUE(v.at("redis").at("ready").as_bool());
  EXPECT_GT(v.at("redis").at("time").as_int64(), 1700000000);
  EXPECT_EQ(v.at("token_issuer").as_string(), "latchkey");
  EXPECT_EQ(v.at("session_cookie_name").as_string(), "__Host-session");
  EXPECT_EQ(r.body.find(kAdminKey), std::string::npos);
}

TEST_F(ServerTest, UnknownRouteAndWrongMethod) {
  expect_error(http_request(port, "GET", "/nope"), 404, "not_found");
  auto r = http_request(port, "POST", "/healthz", "{}");
  expect_error(r, 405, "method_not_allowed");
  EXPECT_EQ(r.header("allow"), "GET");
}

TEST_F(ServerTest, ApiKeyIsRequiredOnV1) {
  const std::string body = R"({"a":1})";
  const std::map<std::string, std::string> json_ct{{"Content-Type", "application/json"}};
  auto missing = http_request(port, "POST", "/v1/test/echo", body, json_ct);
  expect_error(missing, 401, "unauthorized");
  EXPECT_EQ(missing.header("www-authenticate"), "Bearer realm=\"latchkey\"");
  for (const std::string& bad :
       std::vector<std::string>{"Bearer wrong", "Bearer " + kAdminKey + "x", "Bearer " + kAdminKey.substr(1),
                                "Basic " + kAdminKey, "Bearer", kAdminKey}) {
    expect_error(http_request(port, "POST", "/v1/test/echo", body,
                              {{"Content-Type", "application/json"}, {"Authorization", bad}}),
                 401, "unauthorized");
  }
  // Unknown /v1 routes are not revealed to unauthenticated callers.
  expect_error(http_request(port, "GET", "/v1/nope"), 401, "unauthorized");
  expect_error(http_request(port, "GET", "/v1/nope", "", kAuth), 404, "not_found");
  auto ok = http_request(port, "POST", "/v1/test/echo", body,
                         {{"Content-Type", "application/json"}, {"Authorization", "bearer " + kAdminKey}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json(ok).at("echo").at("a").as_int64(), 1);
}

TEST_F(ServerTest, JsonBodyErrors) {
  auto h = kAuth;
  h["Content-Type"] = "application/json";
  expect_error(http_request(port, "POST", "/v1/test/echo", "{not json", h), 400, "invalid_request");
  expect_error(http_request(port, "POST", "/v1/test/echo", "[1,2]", h), 400, "invalid_request");
  expect_error(http_request(port, "POST", "/v1/test/echo", "", h), 400, "invalid_request");
  expect_error(http_request(port, "POST", "/v1/test/echo", std::string(40, '[') + std::string(40, ']'), h), 400,
               "invalid_request");
  auto wrong_type = kAuth;
  wrong_type["Content-Type"] = "text/plain";
  expect_error(http_request(port, "POST", "/v1/test/echo", "{}", wrong_type), 415, "unsupported_media_type");
  expect_error(http_request(port, "POST", "/v1/test/echo", "{}", kAuth), 415, "unsupported_media_type");
  auto with_charset = kAuth;
  with_charset["Content-Type"] = "application/json; charset=utf-8";
  EXPECT_EQ(http_request(port, "POST", "/v1/test/echo", "{}", with_charset).status, 200);
}

TEST_F(ServerTest, OversizeBodyIsRejectedBeforeReading) {
  auto h = kAuth;
  h["Content-Type"] = "application/json";
  std::string big = "{\"a\":\"" + std::string(3000, 'x') + "\"}";
  expect_error(http_request(port, "POST", "/v1/test/echo", big, h), 413, "payload_too_large");
  // Declared length alone decides: the server answers without waiting for the body.
  HttpConnection c(port);
  c.send_raw(
      "POST /v1/test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n");
  expect_error(c.read_response(2s), 413, "payload_too_large");
  // Chunked bodies are limited too.
  HttpConnection chunked(port);
  std::string req = "POST /v1/test/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kAdminKey +
                    "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) req += "400\r\n" + std::string(1024, 'x') + "\r\n";
  req += "0\r\n\r\n";
  chunked.send_raw(req);
  expect_error(chunked.read_response(2s), 413, "payload_too_large");
}

TEST_F(ServerTest, OversizeHeadersAndMalformedRequests) {
  auto r = http_request(port, "GET", "/healthz", "", {{"X-Big", std::string(4000, 'a')}});
  expect_error(r, 431, "header_too_large");
  HttpConnection bad(port);
  bad.send_raw("THIS IS NOT HTTP\r\n\r\n");
  expect_error(bad.read_response(2s), 400, "invalid_request");
  HttpConnection bad_version(port);
  bad_version.send_raw("GET /healthz HTTP/9.9\r\n\r\n");
  EXPECT_EQ(bad_version.read_response(2s).status, 400);
}

TEST_F(ServerTest, CredentialsInTheQueryStringAreRefused) {
  expect_error(http_request(port, "GET", "/healthz?token=abc"), 400, "invalid_request");
  expect_error(http_request(port, "GET", "/v1/nope?access_token=abc", "", kAuth), 400, "invalid_request");
  EXPECT_EQ(http_request(port, "GET", "/healthz?verbose=1").status, 200);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  HttpConnection c(port);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(c.request("GET", "/healthz").status, 200);
  // Pipelined requests are answered in order.
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_response().status, 200);
  EXPECT_EQ(c.read_response().status, 404);
  auto last = c.request("GET", "/healthz", "", {{"Connection", "close"}});
  EXPECT_EQ(last.status, 200);
  EXPECT_TRUE(c.closed_by_peer(2s));
}

TEST_F(ServerTest, Http10KeepAliveOnlyWhenAsked) {
  HttpConnection keep(port);
  keep.send_raw("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  auto r = keep.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("connection"), "keep-alive");
  EXPECT_EQ(keep.request("GET", "/healthz").status, 200);
  HttpConnection once(port);
  once.send_raw("GET /healthz HTTP/1.0\r\n\r\n");
  auto r2 = once.read_response();
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(r2.header("connection"), "close");
  EXPECT_TRUE(once.closed_by_peer(2s));
}

TEST_F(ServerTest, SlowClientIsCutOffByTheReadDeadline) {
  HttpConnection c(port);
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finishes its headers
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  // Trickling one byte at a time does not extend the deadline.
  HttpConnection trickle(port);
  bool closed = false;
  std::string header = "GET /healthz HTTP/1.1\r\nX-Slow: " + std::string(100, 'a');
  auto start = std::chrono::steady_clock::now();
  for (char ch : header) {
    if (!trickle.send_raw(std::string(1, ch))) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(20ms);
    if (std::chrono::steady_clock::now() - start > 4s) break;
  }
  EXPECT_TRUE(closed || trickle.closed_by_peer(3s));
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpConnection c(port);
  EXPECT_EQ(c.request("GET", "/healthz").status, 200);
  EXPECT_TRUE(c.closed_by_peer(5s));
}

TEST_F(ServerTest, ShutdownDrainsInFlightRequests) {
  std::vector<std::future<test::HttpResult>> inflight;
  for (int i = 0; i < 6; ++i)
    inflight.push_back(std::async(std::launch::async, [this] { return http_request(port, "GET", "/test/slow"); }));
  HttpConnection idle(port);
  EXPECT_EQ(idle.request("GET", "/healthz").status, 200);
  std::this_thread::sleep_for(100ms);
  server->request_stop();
  for (auto& f : inflight) {
    auto r = f.get();
    EXPECT_EQ(r.status, 200) << "an in-flight request was dropped by shutdown";
    EXPECT_EQ(r.header("connection"), "close");
  }
  EXPECT_TRUE(idle.closed_by_peer(2s)) << "idle keep-alive connections are closed at shutdown";
  server->wait();
  EXPECT_THROW(HttpConnection late(port), std::runtime_error) << "no longer accepting";
  server.reset();
}

// admin_listen and metrics_listen: the admin API and /metrics leave the public listener, which
// then answers 404 for them (with or without the key); OAuth and /.well-known stay public
// only; health answers everywhere.
TEST(ServerListeners, AdminAndMetricsRoutesAreRefusedOnThePublicListenerWhenSplit) {
  test::RedisServer rs;
  Config c = server_test_config(rs);
  c.admin_listen = ListenAddress{"127.0.0.1", 0};
  c.metrics_listen = ListenAddress{"127.0.0.1", 0};
  Server server(c, test::test_secrets(), test_routes());
  auto err = server.start();
  ASSERT_FALSE(err) << *err;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!server.redis_ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  const std::uint16_t pub = server.port(public_listener), admin = server.port(admin_listener),
                      metrics = server.port(metrics_listener);
  ASSERT_NE(pub, admin);
  ASSERT_NE(pub, metrics);
  ASSERT_NE(admin, metrics);
  EXPECT_NE(server.describe_listeners().find("(admin)"), std::string::npos) << server.describe_listeners();

  const std::map<std::string, std::string> session_body_headers{{"Authorization", "Bearer " + kAdminKey},
                                                                {"Content-Type", "application/json"}};
  const std::string body = R"({"user_id":"alice"})";
  // The admin API: not on the public listener, key or no key; on the admin listener as before.
  auto on_public = http_request(pub, "POST", "/v1/sessions", body, session_body_headers);
  EXPECT_EQ(on_public.status, 404) << on_public.body;
  EXPECT_EQ(test::error_code(on_public), "not_found");
  EXPECT_EQ(http_request(pub, "GET", "/v1/server").status, 404);
  EXPECT_EQ(http_request(pub, "GET", "/v1/nope").status, 404);
  auto created = http_request(admin, "POST", "/v1/sessions", body, session_body_headers);
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(http_request(admin, "POST", "/v1/sessions", body, {{"Content-Type", "application/json"}}).status, 401);
  EXPECT_EQ(http_request(admin, "GET", "/v1/nope").status, 401);
  EXPECT_EQ(http_request(admin, "GET", "/v1/server", "", kAuth).status, 200);
  // Metrics: only on the metrics listener.
  EXPECT_EQ(http_request(pub, "GET", "/metrics").status, 404);
  EXPECT_EQ(http_request(admin, "GET", "/metrics").status, 404);
  auto m = http_request(metrics, "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("latchkey_http_requests_total"), std::string::npos);
  // Public routes: only on the public listener.
  EXPECT_EQ(http_request(pub, "GET", "/.well-known/jwks.json").status, 200);
  EXPECT_EQ(http_request(admin, "GET", "/.well-known/jwks.json").status, 404);
  EXPECT_EQ(http_request(metrics, "GET", "/.well-known/jwks.json").status, 404);
  EXPECT_EQ(http_request(admin, "POST", "/oauth2/token", "grant_type=client_credentials",
                         {{"Content-Type", "application/x-www-form-urlencoded"}})
                .status,
            404);
  EXPECT_EQ(http_request(metrics, "POST", "/v1/sessions", body, session_body_headers).status, 404);
  // Health: everywhere.
  for (auto port : {pub, admin, metrics}) {
    EXPECT_EQ(http_request(port, "GET", "/healthz").status, 200) << port;
    EXPECT_EQ(http_request(port, "GET", "/readyz").status, 200) << port;
  }
  server.request_stop();
  server.wait();
}

// An admin_listen equal to listen is the same listener (one socket serving both), not a second
// socket on the same port that the kernel would split connections with.
TEST(ServerListeners, AnAdminListenEqualToListenIsTheSameListener) {
  test::RedisServer rs;
  Config c = server_test_config(rs);
  c.listen_port = test::reserved_listen_port();
  c.admin_listen = ListenAddress{"127.0.0.1", c.listen_port};
  Server server(c, test::test_secrets(), test_routes());
  auto err = server.start();
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(server.port(admin_listener), server.port(public_listener));
  EXPECT_EQ(server.describe_listeners(),
            "http://127.0.0.1:" + std::to_string(c.listen_port) + " (public+admin+metrics)");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!server.redis_ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(http_request(c.listen_port, "GET", "/v1/server", "", kAuth).status, 200);
  EXPECT_EQ(http_request(c.listen_port, "GET", "/metrics").status, 200);
  server.request_stop();
  server.wait();
}
