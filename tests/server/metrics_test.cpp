// /metrics as an operator reads it: process and build, Redis up per shard, requests in flight
// and open connections, and the security counters following real outcomes (refresh reuse,
// code replay is covered by the OAuth tests' scrape, lockouts, evictions, failed admin keys,
// token verify failures by reason). /readyz answers for every shard.
#include "support/test_server.hpp"

#include "latchkey/clock.hpp"
#include "latchkey/version.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

using namespace latchkey;
using namespace latchkey::test;
using namespace std::chrono_literals;

namespace {

// The value of one series ("name{labels}" exactly as rendered), or -1 when absent.
double series(const std::string& body, const std::string& name) {
  auto at = body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  at += name.size() + 2;
  return std::stod(body.substr(at, body.find('\n', at) - at));
}

std::string scrape(TestServer& srv) {
  auto m = srv.get("/metrics", {{"Authorization", ""}});
  EXPECT_EQ(m.status, 200);
  return m.body;
}

}  // namespace

TEST(MetricsHttp, ProcessBuildAndRedisUpPerShard) {
  RedisServer rs;
  TestServer srv(rs);
  std::string m = scrape(srv);
  EXPECT_GT(series(m, "process_cpu_seconds_total"), 0) << m;
  EXPECT_GT(series(m, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(series(m, "process_virtual_memory_bytes"), 1e6);
  EXPECT_GT(series(m, "process_open_fds"), 3);
  EXPECT_GT(series(m, "process_max_fds"), 3);
  double start = series(m, "process_start_time_seconds");
  EXPECT_LE(start, static_cast<double>(unix_now()) + 1) << std::fixed << start << " " << unix_now();
  EXPECT_GT(start, static_cast<double>(unix_now()) - 24 * 3600);
  EXPECT_NE(m.find("\nlatchkey_build_info{version=\"" LATCHKEY_VERSION "\",boost=\""), std::string::npos) << m;
  ASSERT_EQ(srv.config().threads, 2u);
  EXPECT_EQ(series(m, "latchkey_redis_up{shard=\"0\"}"), 1);
  EXPECT_EQ(series(m, "latchkey_redis_up{shard=\"1\"}"), 1);
  EXPECT_GE(series(m, "latchkey_http_connections_open"), 1);
  // The scrape itself is in flight while it is answered.
  EXPECT_GE(series(m, "latchkey_http_requests_in_flight"), 1);
  for (const char* e : {"refresh_reuse_detected", "code_replayed", "login_failure", "lockout", "session_evicted",
                        "admin_auth_failure", "oauth_client_auth_failure", "dpop_proof_replayed"})
    EXPECT_EQ(series(m, std::string("latchkey_security_events_total{event=\"") + e + "\"}"), 0) << e;

  // Redis down: every shard reports it, then both come back.
  rs.kill();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline && (series(scrape(srv), "latchkey_redis_up{shard=\"0\"}") != 0 ||
                                                         series(scrape(srv), "latchkey_redis_up{shard=\"1\"}") != 0))
    std::this_thread::sleep_for(20ms);
  m = scrape(srv);
  EXPECT_EQ(series(m, "latchkey_redis_up{shard=\"0\"}"), 0);
  EXPECT_EQ(series(m, "latchkey_redis_up{shard=\"1\"}"), 0);
  rs.start();
  deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline && !srv.server().redis_ready()) std::this_thread::sleep_for(20ms);
  m = scrape(srv);
  EXPECT_EQ(series(m, "latchkey_redis_up{shard=\"0\"}"), 1);
  EXPECT_EQ(series(m, "latchkey_redis_up{shard=\"1\"}"), 1);
}

TEST(MetricsHttp, SecurityCountersFollowWhatHappened) {
  RedisServer rs;
  TestServer srv(rs, [](Config& c) {
    c.login_max_failures = 2;
    c.session_limit = 1;
    c.token_refresh_grace = std::chrono::seconds(0);
  });
  // A wrong admin key, twice.
  EXPECT_EQ(srv.get("/v1/server", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(srv.get("/v1/server", {{"Authorization", ""}}).status, 401);
  // Two failures lock the account.
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(srv.post("/v1/logins/failure", R"({"user_id":"alice","ip":"203.0.113.9"})").status, 200);
  // A second session of a user limited to one evicts the first.
  EXPECT_EQ(srv.post("/v1/sessions", R"({"user_id":"bob"})").status, 201);
  EXPECT_EQ(srv.post("/v1/sessions", R"({"user_id":"bob"})").status, 201);
  // A retired refresh token presented again: reuse.
  auto pair = json_of(srv.post("/v1/tokens", R"({"user_id":"carol"})"));
  std::string rt(pair.at("refresh_token").as_string()), at(pair.at("access_token").as_string());
  EXPECT_EQ(srv.post("/v1/tokens/refresh", "{\"refresh_token\":\"" + rt + "\"}").status, 200);
  EXPECT_EQ(srv.post("/v1/tokens/refresh", "{\"refresh_token\":\"" + rt + "\"}").status, 401);
  // Verify failures by reason: malformed, revoked (the family died with the reuse).
  EXPECT_EQ(srv.post("/v1/tokens/verify", R"({"token":"no-dots-at-all"})").status, 401);
  EXPECT_EQ(srv.post("/v1/tokens/verify", "{\"token\":\"" + at + "\"}").status, 401);

  std::string m = scrape(srv);
  EXPECT_EQ(series(m, "latchkey_security_events_total{event=\"admin_auth_failure\"}"), 2) << m;
  EXPECT_EQ(series(m, "latchkey_security_events_total{event=\"login_failure\"}"), 2);
  EXPECT_EQ(series(m, "latchkey_security_events_total{event=\"lockout\"}"), 1);
  EXPECT_EQ(series(m, "latchkey_security_events_total{event=\"session_evicted\"}"), 1);
  EXPECT_EQ(series(m, "latchkey_security_events_total{event=\"refresh_reuse_detected\"}"), 1);
  EXPECT_EQ(series(m, "latchkey_token_verify_failures_total{reason=\"malformed\"}"), 1);
  EXPECT_EQ(series(m, "latchkey_token_verify_failures_total{reason=\"revoked\"}"), 1);
  EXPECT_EQ(series(m, "latchkey_token_verify_failures_total{reason=\"other\"}"), 0);
}

// /readyz speaks for the process: with one shard's connection refused by Redis (maxclients
// reached while it reconnects) every request gets 503, whichever shard serves it; without
// the check of the other shards about half would be 200.
TEST(MetricsHttp, ReadyzAnswersForEveryShard) {
  RedisServer rs;
  TestServer srv(rs);
  auto ready_answers = [&](int n) {
    int ok = 0;
    for (int i = 0; i < n; ++i) ok += srv.get("/readyz", {{"Authorization", ""}}).status == 200 ? 1 : 0;
    return ok;
  };
  EXPECT_EQ(ready_answers(20), 20);
  auto body = json_of(srv.get("/readyz"));
  EXPECT_EQ(body.at("shards").as_int64(), 2);

  // Room for exactly the clients there are now (two shards and `admin`); one shard's
  // connection is killed and its slot taken at once by `filler` (the shard waits at least
  // redis_reconnect_min_ms before reconnecting): it cannot come back until maxclients rises.
  RedisClient admin(rs.port());
  ASSERT_TRUE(admin.connected());
  std::string own = admin.command({"CLIENT", "ID"});
  std::string list = admin.command({"CLIENT", "LIST"});
  std::vector<std::string> ids;
  for (std::size_t at = list.find("id="); at != std::string::npos; at = list.find("\nid=", at + 1)) {
    auto start = list.find("id=", at) + 3;
    std::string id = list.substr(start, list.find(' ', start) - start);
    if (id != own) ids.push_back(id);
  }
  ASSERT_EQ(ids.size(), 2u) << list;
  EXPECT_EQ(admin.command({"CONFIG", "SET", "maxclients", "3"}), "OK");
  EXPECT_EQ(admin.command({"CLIENT", "KILL", "ID", ids[0]}), "1");
  RedisClient filler(rs.port());
  EXPECT_EQ(filler.command({"PING"}), "PONG");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline && srv.server().redis_ready()) std::this_thread::sleep_for(20ms);
  ASSERT_FALSE(srv.server().redis_ready());
  std::this_thread::sleep_for(300ms);  // a few refused reconnects
  EXPECT_EQ(ready_answers(20), 0);
  auto refused = srv.get("/readyz");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("shard"), std::string::npos) << refused.body;

  // Room again: the shard reconnects and the process is ready.
  EXPECT_EQ(admin.command({"CONFIG", "SET", "maxclients", "10000"}), "OK");
  deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline && !srv.server().redis_ready()) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(ready_answers(20), 20);
}
