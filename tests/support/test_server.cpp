// TestServer: in-process server on a free port; requests carry the admin key by default.
#include "latchkey/clock.hpp"
#include "support/test_server.hpp"

#include "server/routes.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace latchkey::test {

using namespace std::chrono_literals;

Secrets test_secrets(std::optional<crypto::KeyRing> encryption, crypto::jws::Alg alg) {
  std::int64_t now = unix_now();
  return Secrets{encryption ? std::move(*encryption) : crypto::KeyRing::generate(),
                 crypto::SigningRing::generate(alg, now), crypto::random_token(24)};
}

Config test_config(const RedisServer& rs) {
  Config c;
  c.listen_host = "127.0.0.1";
  c.listen_port = 0;
  c.threads = 2;
  c.redis = *redis::parse_target(rs.url());
  c.redis_timeout = 500ms;
  c.redis_reconnect_min = 20ms;
  c.redis_reconnect_max = 200ms;
  c.admin_api_keys = {kAdminKey};
  c.max_body_bytes = 64 * 1024;
  c.max_header_bytes = 8192;
  c.read_timeout = 2000ms;
  c.idle_timeout = 5000ms;
  c.shutdown_grace = 5000ms;
  c.access_log = false;
  return c;
}

TestServer::TestServer(RedisServer& rs, const std::function<void(Config&)>& tweak, std::optional<server::Router> routes,
                       std::optional<Secrets> secrets, bool wait_ready)
    : config_(test_config(rs)) {
  if (tweak) tweak(config_);
  Secrets sec = secrets ? std::move(*secrets) : test_secrets();
  server_ =
      std::make_unique<server::Server>(config_, std::move(sec), routes ? std::move(*routes) : server::make_routes());
  if (auto err = server_->start()) throw std::runtime_error(*err);
  port_ = server_->port();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (wait_ready && !server_->redis_ready()) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("server did not become ready");
    std::this_thread::sleep_for(5ms);
  }
}

TestServer::~TestServer() { stop(); }

void TestServer::stop() {
  if (!server_) return;
  server_->request_stop();
  server_->wait();
  server_.reset();
}

namespace {
std::map<std::string, std::string> with_defaults(std::map<std::string, std::string> h, bool json_body) {
  if (!h.count("Authorization")) h["Authorization"] = "Bearer " + kAdminKey;
  if (h["Authorization"].empty()) h.erase("Authorization");
  if (json_body && !h.count("Content-Type")) h["Content-Type"] = "application/json";
  return h;
}
}  // namespace

HttpResult TestServer::get(const std::string& path, std::map<std::string, std::string> headers) {
  return http_request(port_, "GET", path, "", with_defaults(std::move(headers), false));
}
HttpResult TestServer::post(const std::string& path, const std::string& body,
                            std::map<std::string, std::string> headers) {
  return http_request(port_, "POST", path, body, with_defaults(std::move(headers), true));
}
HttpResult TestServer::patch(const std::string& path, const std::string& body,
                             std::map<std::string, std::string> headers) {
  return http_request(port_, "PATCH", path, body, with_defaults(std::move(headers), true));
}
HttpResult TestServer::del(const std::string& path, std::map<std::string, std::string> headers) {
  return http_request(port_, "DELETE", path, "", with_defaults(std::move(headers), false));
}

boost::json::value json_of(const HttpResult& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  return ec ? boost::json::value() : v;
}

boost::json::array events_of(TestServer& srv, const std::string& query, std::size_t want) {
  boost::json::array out;
  for (int i = 0; i < 100; ++i) {
    auto r = srv.get("/v1/events" + query);
    if (r.status != 200) {
      ADD_FAILURE() << "GET /v1/events" << query << " -> " << r.status << " " << r.body;
      return out;
    }
    out = json_of(r).at("events").as_array();
    if (out.size() >= want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return out;
}

boost::json::object event_of(TestServer& srv, const std::string& type, const std::string& query) {
  auto found = events_of(srv, "?type=" + type + query, 1);
  if (found.empty()) {
    ADD_FAILURE() << "no " << type << " event (" << query << ")";
    return {};
  }
  EXPECT_EQ(found.size(), 1u) << type << ": " << boost::json::serialize(found);
  return found[0].as_object();
}

std::string error_code(const HttpResult& r) {
  auto v = json_of(r);
  if (!v.is_object()) return "";
  const auto* e = v.as_object().if_contains("error");
  return e && e->is_string() ? std::string(e->as_string()) : "";
}

}  // namespace latchkey::test
