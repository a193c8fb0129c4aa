// Test harness: a latchkey Server in this process on a free port, on its own real
// redis-server, with JSON helpers for requests.
#pragma once

#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include "latchkey/config.hpp"
#include "latchkey/secrets.hpp"
#include "server/router.hpp"
#include "server/server.hpp"

#include <boost/json.hpp>

#include <functional>
#include <memory>

namespace latchkey::test {

inline const std::string kAdminKey = "test-admin-key-0123456789abcdef0123456789";

// Fresh key rings for a test server: the given encryption ring (else a new one) and a signing
// ring with one key of `alg`.
Secrets test_secrets(std::optional<crypto::KeyRing> encryption = std::nullopt,
                     crypto::jws::Alg alg = crypto::jws::Alg::EdDSA);

// A config for tests: small limits and short deadlines, no access log.
Config test_config(const RedisServer& rs);

class TestServer {
 public:
  // `tweak` adjusts the config before start; `routes` defaults to the production table.
  // Waits until every shard reaches Redis unless `wait_ready` is false.
  explicit TestServer(RedisServer& rs, const std::function<void(Config&)>& tweak = {},
                      std::optional<server::Router> routes = std::nullopt,
                      std::optional<Secrets> secrets = std::nullopt, bool wait_ready = true);
  ~TestServer();

  std::uint16_t port() const { return port_; }
  server::Server& server() { return *server_; }
  const Config& config() const { return config_; }
  void stop();

  HttpResult get(const std::string& path, std::map<std::string, std::string> headers = {});
  HttpResult post(const std::string& path, const std::string& body, std::map<std::string, std::string> headers = {});
  HttpResult patch(const std::string& path, const std::string& body, std::map<std::string, std::string> headers = {});
  HttpResult del(const std::string& path, std::map<std::string, std::string> headers = {});

 private:
  Config config_;
  std::unique_ptr<server::Server> server_;
  std::uint16_t port_ = 0;
};

// The error code of a JSON error body ("" when there is none).
std::string error_code(const HttpResult& r);
boost::json::value json_of(const HttpResult& r);
// GET /v1/events`query` (e.g. "?type=lockout"), waiting (bounded, 2 s) until at least `want`
// events are answered: the writer runs after the answer of the request that caused them.
boost::json::array events_of(TestServer& srv, const std::string& query, std::size_t want);
// The one event of `type` (with `query` filters added), or an empty object after the wait.
boost::json::object event_of(TestServer& srv, const std::string& type, const std::string& query = "");

}  // namespace latchkey::test
