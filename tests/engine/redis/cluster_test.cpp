// Redis Cluster against real processes (ClusterSet: three masters with a replica each, on
// loopback): routing by slot, MOVED after a slot moved, ASK and TRYAGAIN during a migration
// stopped half-way, and every capability through a latchkey server on the cluster. Each
// scenario is bounded in time.
#include "latchkey/redis/connection.hpp"

#include "support/cluster_set.hpp"
#include "support/failover_load.hpp"
#include "support/oauth_support.hpp"
#include "support/redis_connection.hpp"
#include "support/test_server.hpp"
#include "support/tls_certs.hpp"

#include "latchkey/identity.hpp"
#include "latchkey/key_schema.hpp"
#include "latchkey/redis/scripts.hpp"
#include "latchkey/redis/slot.hpp"
#include "latchkey/sessions.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <future>
#include <iostream>
#include <set>
#include <thread>

using namespace latchkey;
using namespace latchkey::redis;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using test::ClusterSet;
using test::first_outcome;

namespace {

// A request with its keys declared (Request::key), so the router knows their slot.
asio::awaitable<result<Replies>> keyed(Connection& c, std::string cmd, std::vector<std::string> keys,
                                       std::vector<std::string> args = {}) {
  Request r;
  r.begin(1 + keys.size() + args.size()).arg(cmd);
  for (const auto& k : keys) r.key(k);
  for (const auto& a : args) r.arg(a);
  co_return co_await c.exec(std::move(r), "test");
}

// The sum over shards of latchkey_redis_cluster_events_total{event} in a /metrics page.
long cluster_events(const std::string& metrics, const std::string& event) {
  long total = 0;
  const std::string tail = "event=\"" + event + "\"} ";
  for (std::size_t at = 0; (at = metrics.find("latchkey_redis_cluster_events_total{", at)) != std::string::npos;) {
    auto eol = metrics.find('\n', at);
    std::string line = metrics.substr(at, eol - at);
    if (auto t = line.find(tail); t != std::string::npos) total += std::stol(line.substr(t + tail.size()));
    at = eol;
  }
  return total;
}

// Some other master than the one on `port`.
std::uint16_t another_master(ClusterSet& set, std::uint16_t port) {
  for (int s : {0, 6000, 12000}) {
    auto m = set.master_of(static_cast<std::uint16_t>(s));
    if (m != 0 && m != port) return m;
  }
  return 0;
}

// Moves the slot of `key`, with `key`, to another master, step by step; the new master.
std::uint16_t move_to_another_master(ClusterSet& set, const std::string& key) {
  const std::uint16_t slot = key_slot(key);
  const std::uint16_t from = set.master_of(slot), to = another_master(set, from);
  if (to == 0) return 0;
  set.begin_migration(slot, from, to);
  set.migrate_keys(from, to, {key});
  set.finish_migration(slot, to);
  return to;
}

}  // namespace

TEST(RedisCluster, RoutesEveryKeyToTheMasterOfItsSlot) {
  ClusterSet set;
  asio::io_context ioc{1};
  std::vector<std::string> lines;
  auto o = test::quick_options(set.url());
  test::capture_log(o, lines);
  Connection c(ioc.get_executor(), o);
  ASSERT_EQ(first_outcome(ioc, c), "");
  EXPECT_NE(c.current_endpoint().find("3 masters"), std::string::npos) << c.current_endpoint();
  bool ready_line = false;
  for (const auto& l : lines) ready_line = ready_line || l.starts_with("redis cluster ready: cluster: 3 masters");
  EXPECT_TRUE(ready_line) << "the router says when every slot is served";
  std::set<std::uint16_t> masters_used;
  for (int i = 0; i < 60; ++i) {
    std::string key = "lk:route:" + std::to_string(i);
    auto r = test::run_awaitable(ioc, keyed(c, "SET", {key}, {"v" + std::to_string(i)}));
    ASSERT_TRUE(r) << key;
    ASSERT_EQ(r->front().str, "OK") << key << " " << r->front().str;
    // The key is on the master its slot says, and nowhere else.
    std::uint16_t owner = set.master_of(key_slot(key));
    masters_used.insert(owner);
    EXPECT_EQ(set.node(owner).command({"GET", key}), "v" + std::to_string(i));
  }
  EXPECT_EQ(masters_used.size(), 3u) << "sixty keys reach every master";
  // A pipeline whose commands name keys of several slots: each run to its node, in order.
  Request mixed;
  mixed.begin(2).arg("GET").key("lk:route:1");
  mixed.begin(2).arg("GET").key("lk:route:2");
  mixed.begin(1).arg("PING");
  mixed.begin(2).arg("GET").key("lk:route:3");
  ASSERT_TRUE(mixed.spans_slots());
  auto r = test::run_awaitable(ioc, c.exec(std::move(mixed), "test"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].str, "v1");
  EXPECT_EQ((*r)[1].str, "v2");
  EXPECT_EQ((*r)[2].str, "PONG");
  EXPECT_EQ((*r)[3].str, "v3");
  // A command naming keys of two slots is never sent (CROSSSLOT is a bug of ours).
  auto cross = test::run_awaitable(ioc, keyed(c, "MGET", {"lk:route:1", "lk:route:2"}));
  EXPECT_FALSE(cross);
}

TEST(RedisCluster, MovedAfterTheSlotMovedIsFollowedAndTheMapPatched) {
  ClusterSet set;
  asio::io_context ioc{1};
  Connection c(ioc.get_executor(), test::quick_options(set.url()));
  ASSERT_EQ(first_outcome(ioc, c), "");
  const std::string key = "lk:moved:{u42}k";
  ASSERT_EQ(test::run_awaitable(ioc, keyed(c, "SET", {key}, {"before"}))->front().str, "OK");
  const std::uint16_t to = move_to_another_master(set, key);
  ASSERT_NE(to, 0);
  // The connection's map still names `from`: it gets MOVED, follows it, and answers right.
  auto r = test::run_awaitable(ioc, keyed(c, "GET", {key}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->front().str, "before");
  auto w = test::run_awaitable(ioc, keyed(c, "SET", {key}, {"after"}));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->front().str, "OK");
  EXPECT_EQ(set.node(to).command({"GET", key}), "after");
}

TEST(RedisCluster, AskAndTryAgainDuringAMigrationStoppedHalfWay) {
  ClusterSet set;
  asio::io_context ioc{1};
  auto o = test::quick_options(set.url());
  o.cluster_retry_budget = 5s;
  Connection c(ioc.get_executor(), o);
  ASSERT_EQ(first_outcome(ioc, c), "");
  const std::string a = "lk:ask:{t7}a", b = "lk:ask:{t7}b";
  const std::uint16_t slot = key_slot(a);
  ASSERT_EQ(test::run_awaitable(ioc, keyed(c, "SET", {a}, {"A"}))->front().str, "OK");
  ASSERT_EQ(test::run_awaitable(ioc, keyed(c, "SET", {b}, {"B"}))->front().str, "OK");
  const std::uint16_t from = set.master_of(slot), to = another_master(set, from);
  set.begin_migration(slot, from, to);
  set.migrate_keys(from, to, {a});  // `a` is on the target now, `b` still on the source
  // `a`: the source answers ASK; ASKING + GET at the target finds it.
  auto ra = test::run_awaitable(ioc, keyed(c, "GET", {a}));
  ASSERT_TRUE(ra);
  EXPECT_EQ(ra->front().str, "A");
  // `b`: still served by the source.
  auto rb = test::run_awaitable(ioc, keyed(c, "GET", {b}));
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->front().str, "B");
  EXPECT_EQ(set.master_of(slot), from) << "ASK changes no map";
  // Both keys at once: TRYAGAIN while they are split; resent within the budget, answered once
  // the migration ends (here 300 ms later).
  auto finisher = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(300ms);
    set.migrate_keys(from, to, {b});
    set.finish_migration(slot, to);
  });
  auto t0 = std::chrono::steady_clock::now();
  auto both = test::run_awaitable(ioc, keyed(c, "MGET", {a, b}), 10s);
  finisher.get();
  ASSERT_TRUE(both);
  ASSERT_EQ(both->front().elements.size(), 2u);
  EXPECT_EQ(both->front().elements[0].str, "A");
  EXPECT_EQ(both->front().elements[1].str, "B");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms) << "it waited for the migration";
}

TEST(RedisCluster, WithoutAClusterTheSeedsSayWhy) {
  test::RedisServer plain;
  asio::io_context ioc{1};
  Connection c(ioc.get_executor(), test::quick_options("redis+cluster://127.0.0.1:" + std::to_string(plain.port())));
  std::string why = first_outcome(ioc, c);
  EXPECT_NE(why.find("cluster support disabled"), std::string::npos) << why;
  EXPECT_FALSE(c.ready());
  asio::io_context ioc2{1};
  Connection none(ioc2.get_executor(),
                  test::quick_options("redis+cluster://127.0.0.1:" + std::to_string(test::free_port())));
  why = first_outcome(ioc2, none);
  EXPECT_NE(why.find("no cluster node gave the slot map"), std::string::npos) << why;
}

// Every capability through a latchkey server whose Redis is the cluster: sessions (limits,
// logout everywhere), tokens (refresh, reuse detection, revoke all), the OAuth code flow and
// its replay, rate limits and the login lockout.
TEST(RedisCluster, EveryCapabilityWorksOnTheCluster) {
  ClusterSet set;
  test::TestServer srv(*set.nodes[0], [&](Config& cfg) {
    cfg.redis = *parse_target(set.url());
    cfg.session_limit = 3;
    cfg.token_refresh_grace = std::chrono::seconds(0);  // a second presentation is a reuse
  });
  auto ready = srv.get("/readyz");
  ASSERT_EQ(ready.status, 200) << ready.body;
  // Sessions across many users (so across slots), the per-user limit, logout everywhere.
  for (int u = 0; u < 12; ++u) {
    std::string user = "cl-user-" + std::to_string(u);
    std::vector<std::string> tokens;
    for (int i = 0; i < 4; ++i) {
      auto r = srv.post("/v1/sessions", R"({"user_id":")" + user + R"(","data":{"i":)" + std::to_string(i) + "}}");
      ASSERT_EQ(r.status, 201) << r.body;
      tokens.emplace_back(test::json_of(r).at("token").as_string());
    }
    EXPECT_EQ(srv.post("/v1/sessions/validate", R"({"token":")" + tokens[0] + R"("})").status, 401)
        << "the oldest was evicted by the limit";
    auto v = srv.post("/v1/sessions/validate", R"({"token":")" + tokens[3] + R"("})");
    ASSERT_EQ(v.status, 200) << v.body;
    auto listed = test::json_of(srv.get("/v1/users/" + user + "/sessions")).at("sessions").as_array();
    EXPECT_EQ(listed.size(), 3u);
    EXPECT_EQ(srv.del("/v1/users/" + user + "/sessions").status, 200);
    EXPECT_EQ(srv.post("/v1/sessions/validate", R"({"token":")" + tokens[3] + R"("})").status, 401);
  }
  // Tokens: refresh rotates, a reuse revokes the family, revoke-all ends the rest.
  auto issued = srv.post("/v1/tokens", R"({"user_id":"cl-tok"})");
  ASSERT_EQ(issued.status, 200) << issued.body;
  std::string rt1(test::json_of(issued).at("refresh_token").as_string());
  auto rotated = srv.post("/v1/tokens/refresh", R"({"refresh_token":")" + rt1 + R"("})");
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  std::string rt2(test::json_of(rotated).at("refresh_token").as_string());
  std::string at2(test::json_of(rotated).at("access_token").as_string());
  EXPECT_EQ(srv.post("/v1/tokens/verify", R"({"token":")" + at2 + R"("})").status, 200);
  EXPECT_NE(srv.post("/v1/tokens/refresh", R"({"refresh_token":")" + rt1 + R"("})").status, 200) << "reuse";
  EXPECT_NE(srv.post("/v1/tokens/refresh", R"({"refresh_token":")" + rt2 + R"("})").status, 200)
      << "the family was revoked";
  auto other = srv.post("/v1/tokens", R"({"user_id":"cl-tok"})");
  ASSERT_EQ(other.status, 200);
  EXPECT_EQ(srv.del("/v1/users/cl-tok/tokens").status, 200);
  std::string rt3(test::json_of(other).at("refresh_token").as_string());
  EXPECT_NE(srv.post("/v1/tokens/refresh", R"({"refresh_token":")" + rt3 + R"("})").status, 200);
  // Rate limits: exact across keys of different slots.
  for (int k = 0; k < 5; ++k) {
    std::string body =
        R"({"key":"cl-rl-)" + std::to_string(k) + R"(","algorithm":"fixed_window","limit":3,"window":60})";
    int admitted = 0;
    for (int i = 0; i < 5; ++i) admitted += srv.post("/v1/ratelimit/check", body).status == 200;
    EXPECT_EQ(admitted, 3);
  }
  // Login protection: the account locks after login_max_failures.
  int locked_at = -1;
  for (int i = 0; i < 10 && locked_at < 0; ++i) {
    auto chk = srv.post("/v1/logins/check", R"({"user_id":"cl-victim","ip":"203.0.113.9"})");
    if (chk.status == 429) {
      locked_at = i;
      break;
    }
    ASSERT_EQ(chk.status, 200) << chk.body;
    ASSERT_EQ(srv.post("/v1/logins/failure", R"({"user_id":"cl-victim","ip":"203.0.113.9"})").status, 200);
  }
  EXPECT_EQ(locked_at, static_cast<int>(srv.config().login_max_failures));

  // OAuth: code flow with PKCE, introspection (the client record and the token in two slots),
  // refresh, a replayed code revoking what it gave, client credentials.
  auto reg = srv.post("/v1/oauth/clients",
                      R"({"client_name":"Shop","redirect_uris":["https://shop.example/cb"],)"
                      R"("grant_types":["authorization_code","refresh_token","client_credentials"],"scope":"read"})");
  ASSERT_EQ(reg.status, 201) << reg.body;
  const std::string cid(test::json_of(reg).at("client_id").as_string());
  const std::string secret(test::json_of(reg).at("client_secret").as_string());
  // The list reads the index (its own slot) and the records (theirs).
  auto listed = srv.get("/v1/oauth/clients");
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(test::json_of(listed).at("clients").as_array().size(), 1u) << listed.body;
  EXPECT_EQ(test::json_of(listed).at("clients").as_array()[0].at("client_id").as_string(), cid);
  const std::map<std::string, std::string> client{{"Content-Type", "application/x-www-form-urlencoded"},
                                                  {"Authorization", test::basic_authorization(cid + ":" + secret)}};
  auto authz = srv.post("/v1/oauth/authorizations",
                        R"({"client_id":")" + cid +
                            R"(","redirect_uri":"https://shop.example/cb","response_type":"code","scope":"read",)"
                            R"("state":"s","code_challenge":")" +
                            test::kChallenge + R"(","code_challenge_method":"S256","user_id":"cl-alice"})");
  ASSERT_EQ(authz.status, 201) << authz.body;
  const std::string code(test::json_of(authz).at("code").as_string());
  const std::string redeem = "grant_type=authorization_code&code=" + code +
                             "&redirect_uri=https%3A%2F%2Fshop.example%2Fcb&code_verifier=" + test::kVerifier;
  auto tok = srv.post("/oauth2/token", redeem, client);
  ASSERT_EQ(tok.status, 200) << tok.body;
  const std::string access(test::json_of(tok).at("access_token").as_string());
  const std::string refresh(test::json_of(tok).at("refresh_token").as_string());
  auto intro = srv.post("/oauth2/introspect", "token=" + access, client);
  ASSERT_EQ(intro.status, 200) << intro.body;
  EXPECT_TRUE(test::json_of(intro).at("active").as_bool()) << intro.body;
  auto refreshed = srv.post("/oauth2/token", "grant_type=refresh_token&refresh_token=" + refresh, client);
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  const std::string access2(test::json_of(refreshed).at("access_token").as_string());
  auto replay = srv.post("/oauth2/token", redeem, client);
  EXPECT_EQ(replay.status, 400) << replay.body;
  EXPECT_EQ(test::error_code(replay), "invalid_grant");
  EXPECT_EQ(srv.post("/oauth2/introspect", "token=" + access2, client).body, R"({"active":false})")
      << "the replayed code revoked the tokens it gave";
  auto cc = srv.post("/oauth2/token", "grant_type=client_credentials", client);
  ASSERT_EQ(cc.status, 200) << cc.body;
  const std::string machine(test::json_of(cc).at("access_token").as_string());
  auto mi = srv.post("/oauth2/introspect", "token=" + machine, client);
  EXPECT_TRUE(test::json_of(mi).at("active").as_bool()) << mi.body;

  // /metrics per node: every master carried calls, and the map was fetched from one of them.
  const std::string metrics = srv.get("/metrics").body;
  long fetches = 0;
  for (int s : {0, 6000, 12000}) {
    const std::string node = "node=\"127.0.0.1:" + std::to_string(set.master_of(static_cast<std::uint16_t>(s))) + "\"";
    const std::string calls = "latchkey_redis_node_calls_total{" + node + "} ";
    auto at = metrics.find(calls);
    ASSERT_NE(at, std::string::npos) << calls;
    EXPECT_GT(std::stol(metrics.substr(at + calls.size())), 0) << node;
    EXPECT_NE(metrics.find("latchkey_redis_node_call_duration_seconds_count{" + node + "}"), std::string::npos);
    const std::string fetched = "latchkey_redis_node_events_total{" + node + ",event=\"refresh\"} ";
    if (auto r = metrics.find(fetched); r != std::string::npos)
      fetches += std::stol(metrics.substr(r + fetched.size()));
  }
  EXPECT_GT(fetches, 0) << "slot-map fetches are counted against the node asked";
}

namespace {
void configure(Config& c, const ClusterSet& set) {
  c.redis = *parse_target(set.url());
  c.redis_wait_replicas = 1;  // each master has one replica
  c.redis_wait_timeout = 800ms;
  c.redis_timeout = 1500ms;
  c.redis_connect_timeout = 500ms;
  c.redis_reconnect_max = 200ms;
  c.redis_cluster_retry_budget = 1000ms;
}
}  // namespace

// A seed that is a cluster node but serves no slot (never joined, or reset by del-node)
// answers CLUSTER SLOTS with nothing: that is no map to adopt. The router asks the next seed,
// and is ready.
TEST(RedisCluster, ASeedThatServesNoSlotIsPassedOver) {
  ClusterSet set;
  test::RedisServer lone({"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port",
                          std::to_string(test::free_port())});
  const std::string url =
      "redis+cluster://127.0.0.1:" + std::to_string(lone.port()) + ",127.0.0.1:" + std::to_string(set.nodes[0]->port());
  asio::io_context ioc{1};
  Connection c(ioc.get_executor(), test::quick_options(url));
  ASSERT_EQ(first_outcome(ioc, c), "");
  EXPECT_TRUE(c.ready());
  EXPECT_NE(c.current_endpoint().find("3 masters"), std::string::npos) << c.current_endpoint();
}

// A redirect loop from real nodes: the source marks the slot MIGRATING to a target that was
// never told to import it. A missing key gets ASK (source) then MOVED back (target), forever;
// the router stops after redis_cluster_max_redirects and answers unavailable, and the slot
// serves again once the mark is cleared.
TEST(RedisCluster, ARedirectLoopIsCappedNotFollowedForever) {
  ClusterSet set;
  asio::io_context ioc{1};
  auto o = test::quick_options(set.url());
  o.cluster_max_redirects = 5;
  std::vector<std::string> lines;
  test::capture_log(o, lines);
  Connection c(ioc.get_executor(), o);
  ASSERT_EQ(first_outcome(ioc, c), "");
  const std::string key = "lk:loop:{l1}missing";
  const std::uint16_t slot = key_slot(key);
  const std::uint16_t from = set.master_of(slot), to = another_master(set, from);
  ASSERT_EQ(set.node(from).command({"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", set.node_id(to)}), "OK");
  auto looped = test::run_awaitable(ioc, keyed(c, "GET", {key}), 10s);
  ASSERT_FALSE(looped) << "a redirect loop answered";
  EXPECT_EQ(looped.error(), make_error_code(errc::unavailable)) << looped.error().message();
  bool capped = false;
  for (const auto& l : lines)
    capped = capped || l.starts_with("more than 5 redirects for slot " + std::to_string(slot));
  EXPECT_TRUE(capped) << "the cap, not the budget, ended it";
  ASSERT_EQ(set.node(from).command({"CLUSTER", "SETSLOT", std::to_string(slot), "STABLE"}), "OK");
  auto served = test::run_awaitable(ioc, keyed(c, "GET", {key}));
  ASSERT_TRUE(served);
  EXPECT_TRUE(served->front().is_nil());
}

// A master added, given slots, then drained and removed (redis-cli --cluster add-node,
// reshard, del-node) while load runs: the router follows the slots there and back, drops the
// link to the node that left, and nothing is answered wrong or lost.
TEST(RedisCluster, ANodeRemovedAfterItsSlotsMovedAwayIsForgotten) {
  ClusterSet set;
  const std::uint16_t added = set.add_master();
  auto given = set.reshard(set.master_of(0), added, 1500);
  ASSERT_EQ(given.exit_code, 0) << given.out.substr(0, 2000);
  ASSERT_TRUE(set.wait_settled(30s));
  ASSERT_EQ(set.slots_of(added), 1500);
  // The added master has no replica: a revocation WAITing for one would answer 503 there.
  test::TestServer srv(*set.nodes[1], [&](Config& c) {
    configure(c, set);
    c.redis_wait_replicas = 0;
  });
  ASSERT_EQ(srv.get("/readyz").status, 200);
  EXPECT_NE(srv.get("/readyz").body.find("4 masters"), std::string::npos) << srv.get("/readyz").body;
  test::FailoverLoad load(srv);
  load.start(4);
  std::this_thread::sleep_for(1000ms);
  const std::uint16_t heir = another_master(set, added);
  auto drained = set.reshard(added, heir, 1500);
  ASSERT_EQ(drained.exit_code, 0) << drained.out.substr(0, 2000);
  ASSERT_TRUE(set.wait_settled(30s));
  EXPECT_EQ(set.slots_of(added), 0);
  auto removed = set.remove_node(added);
  ASSERT_EQ(removed.exit_code, 0) << removed.out.substr(0, 2000);
  std::this_thread::sleep_for(1000ms);
  load.finish();
  for (const auto& w : load.wrong) ADD_FAILURE() << "a wrong answer: " << w;
  EXPECT_EQ(load.lost_sessions.load(), 0);
  std::cout << "drain of 1500 slots and del-node under load: " << load.ok << " successes, " << load.unavailable
            << " 503s\n";
  // The map the router holds now has three masters, and every slot is served.
  auto ready = srv.get("/readyz");
  for (auto until = std::chrono::steady_clock::now() + 10s;
       ready.body.find("3 masters") == std::string::npos && std::chrono::steady_clock::now() < until;
       ready = srv.get("/readyz"))
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_NE(ready.body.find("3 masters"), std::string::npos) << ready.body;
  test::TestServer fresh(*set.nodes[0], [&](Config& c) { configure(c, set); });
  for (const auto& rt : load.ledger)
    EXPECT_EQ(fresh.post("/v1/tokens/refresh", R"({"refresh_token":")" + rt + R"("})").status, 401);
}

// A slot stopped half-way through a migration, with a user's session index moved to the
// target and their sessions still on the source. Without the migration guard a script would
// answer from half the slot: shown first with the script itself (ASKING + EVAL at the target
// lists no sessions). Through latchkey, listing, validation and logout everywhere wait
// (TRYAGAIN) and answer 503 after the budget, never a wrong answer, and change nothing; once
// the slot settles, the same calls see every session.
TEST(RedisCluster, ScriptsWaitForASlotMidMigration) {
  ClusterSet set;
  test::TestServer srv(*set.nodes[0], [&](Config& c) {
    c.redis = *parse_target(set.url());
    c.redis_cluster_retry_budget = 1000ms;
  });
  const std::string user = "mid-migration";
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    auto r = srv.post("/v1/sessions", R"({"user_id":")" + user + R"("})");
    ASSERT_EQ(r.status, 201) << r.body;
    tokens.emplace_back(test::json_of(r).at("token").as_string());
  }
  const std::uint16_t slot = user_slot(user);
  key_schema::UserSlot names(srv.config().key_prefix, slot);
  const std::string index = names.session_index(user_hash(user));
  const std::uint16_t from = set.master_of(slot), to = another_master(set, from);
  // A copy of the index (same slot) for the demonstration below, which damages what it reads.
  const std::string copy = index + ":copy";
  ASSERT_EQ(set.node(from).command({"COPY", index, copy}), "1");
  set.begin_migration(slot, from, to);
  set.migrate_keys(from, to, {index, copy});

  // The hazard: at the target (reached by ASK) the unguarded script lists nothing, and
  // prunes the index as if the sessions were gone. (On the copy.)
  const ScriptSet scripts = ScriptSet::embedded();
  const auto* list = scripts.find("session_list");
  ASSERT_NE(list, nullptr);
  std::string unguarded = list->source;  // the script as it was before the guard
  const auto check = unguarded.find("if not string.find(KEYS[#KEYS]");
  ASSERT_NE(check, std::string::npos);
  unguarded.erase(check, unguarded.find("\nend\n", check) + 5 - check);
  {
    test::RedisClient target(to);
    ASSERT_EQ(target.command({"ASKING"}), "OK");
    EXPECT_EQ(target.command({"EVAL", unguarded, "1", copy, names.session_prefix()}), "")
        << "an unguarded script at the target would answer from half the slot";
    ASSERT_EQ(target.command({"ASKING"}), "OK");
    EXPECT_EQ(target.command({"ZCARD", copy}), "0") << "and it wrote what it believed";
    ASSERT_EQ(target.command({"ASKING"}), "OK");
    auto guarded = target.command({"EVAL", list->source, "2", index, names.migration_guard(), names.session_prefix()});
    EXPECT_TRUE(guarded.starts_with("ERR:TRYAGAIN")) << guarded;
  }

  // Through latchkey: 503 after the budget, never an empty list, a 401 or a logout.
  auto listed = srv.get("/v1/users/" + user + "/sessions");
  EXPECT_EQ(listed.status, 503) << listed.body;
  // Validation reads and slides only the session's own key (three plain commands): the node
  // that holds it answers, as it does for a key already moved (ASK, TIME's answer beside the
  // redirected commands notwithstanding). The script it falls back to is guarded: a session
  // whose last_seen_at is due waits for the slot like the calls above.
  EXPECT_EQ(srv.post("/v1/sessions/validate", R"({"token":")" + tokens[0] + R"("})").status, 200);
  set.migrate_keys(from, to, {names.session(sessions::session_id_of(tokens[2]))});
  EXPECT_EQ(srv.post("/v1/sessions/validate", R"({"token":")" + tokens[2] + R"("})").status, 200);
  {
    const std::string key = names.session(sessions::session_id_of(tokens[1]));
    const auto ls = std::stoll(set.node(from).command({"HGET", key, "ls"}));
    ASSERT_EQ(set.node(from).command({"HSET", key, "ls", std::to_string(ls - 61)}), "0");  // due, still live
  }
  EXPECT_EQ(srv.post("/v1/sessions/validate", R"({"token":")" + tokens[1] + R"("})").status, 503);
  EXPECT_EQ(srv.del("/v1/users/" + user + "/sessions").status, 503);
  EXPECT_EQ(srv.post("/v1/sessions", R"({"user_id":")" + user + R"("})").status, 503);

  // The slot settles while a call waits: it is answered from the whole slot.
  auto finisher = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(150ms);
    std::vector<std::string> sessions;
    for (const auto& t : tokens) sessions.push_back(names.session(sessions::session_id_of(t)));
    set.migrate_keys(from, to, sessions);
    set.finish_migration(slot, to);
  });
  std::this_thread::sleep_for(50ms);
  auto during = srv.get("/v1/users/" + user + "/sessions");
  finisher.get();
  ASSERT_EQ(during.status, 200) << during.body;
  EXPECT_EQ(test::json_of(during).at("sessions").as_array().size(), 3u) << "nothing was lost or logged out";
  ASSERT_TRUE(set.wait_settled(10s));
  for (const auto& t : tokens) EXPECT_EQ(srv.post("/v1/sessions/validate", R"({"token":")" + t + R"("})").status, 200);
  auto out = srv.del("/v1/users/" + user + "/sessions");
  ASSERT_EQ(out.status, 200) << out.body;
  for (const auto& t : tokens) EXPECT_EQ(srv.post("/v1/sessions/validate", R"({"token":")" + t + R"("})").status, 401);
}

// kill -9 of one master under load: its slots answer 503 until the cluster promotes the
// replica (cluster-node-timeout 1500 ms), then the router finds the new master without a
// restart; the other masters' slots keep serving; no answer is wrong; every revocation
// acknowledged (WAIT for the replica) is still in force afterwards, read through new links.
TEST(RedisCluster, MasterKilledUnderLoadRecoversAndKeepsAcknowledgedRevocations) {
  ClusterSet set;
  test::TestServer srv(*set.nodes[0], [&](Config& c) { configure(c, set); });
  test::FailoverLoad load(srv);
  load.start(4);
  std::this_thread::sleep_for(1500ms);
  ASSERT_GT(load.ok.load(), 0);
  const std::uint16_t victim = set.master_of(0);
  const auto killed_at = load.now_ms();
  const long unavailable_before = load.unavailable.load();
  set.node(victim).kill();
  // Recovered: slot 0 served by another node, and the load succeeding on it through latchkey.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline &&
         (set.master_of(0) == 0 || set.master_of(0) == victim || !set.wait_settled(100ms)))
    std::this_thread::sleep_for(50ms);
  ASSERT_NE(set.master_of(0), victim) << "no failover";
  // Recovered when twenty session creations in a row (users across every slot range) succeed.
  std::int64_t recovered_at = -1;
  auto until = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < until) {
    bool all_ok = true;
    for (int i = 0; i < 20 && all_ok; ++i)
      all_ok = srv.post("/v1/sessions", R"({"user_id":"after-)" + std::to_string(i) + R"("})").status == 201;
    if (all_ok) {
      recovered_at = load.now_ms();
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(1000ms);
  load.finish();
  ASSERT_GT(recovered_at, 0) << "latchkey did not recover";
  std::cout << "kill -9 of a cluster master: every slot answers again " << (recovered_at - killed_at)
            << " ms after the kill (node timeout 1500 ms + election + map refresh); " << load.ok << " successes, "
            << (load.unavailable - unavailable_before) << " 503s after the kill, " << load.lost_sessions
            << " sessions lost with the old master\n";
  for (const auto& w : load.wrong) ADD_FAILURE() << "a wrong answer: " << w;
  EXPECT_GT(load.unavailable.load(), unavailable_before) << "the killed master's slots answered 503 meanwhile";
  auto ready = test::ready_within(srv, 15s);
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(std::string(test::json_of(ready).at("redis").at("endpoint").as_string()).find(std::to_string(victim)),
            std::string::npos)
      << "still names the killed master";
  // The ledger, through a new server (new links, a fresh slot map). The killed master's
  // replica is the new master and has no replica now: revocations there cannot WAIT, so the
  // check server does not ask for it.
  test::TestServer fresh(*set.nodes[1], [&](Config& c) {
    configure(c, set);
    c.redis_wait_replicas = 0;
  });
  for (const auto& rt : load.ledger) {
    auto r = fresh.post("/v1/tokens/refresh", R"({"refresh_token":")" + rt + R"("})");
    EXPECT_EQ(r.status, 401) << "an acknowledged revocation was undone by the failover: " << r.body;
  }
  std::cout << "ledger: " << load.ledger.size() << " acknowledged revocations checked after the failover\n";
}

// Live resharding: redis-cli moves a thousand slots (keys included) from one master to another
// while four clients issue and revoke tokens and create and validate sessions. Every answer is
// right or 503, no session is lost (nothing failed over), and every acknowledged revocation is
// in force at the end, read through a fresh server.
TEST(RedisCluster, LiveReshardingUnderLoadLosesNothing) {
  ClusterSet set;
  test::TestServer srv(*set.nodes[0], [&](Config& c) { configure(c, set); });
  test::FailoverLoad load(srv);
  load.start(4);
  std::this_thread::sleep_for(1000ms);
  const std::uint16_t from = set.master_of(0), to = another_master(set, from);
  auto t0 = std::chrono::steady_clock::now();
  auto moved = set.reshard(from, to, 1000);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::this_thread::sleep_for(500ms);
  load.finish();
  ASSERT_EQ(moved.exit_code, 0) << moved.out.substr(0, 2000);
  EXPECT_EQ(set.master_of(0), to) << "slot 0 moved";
  std::cout << "resharding 1000 slots under load took " << took.count() << " ms; " << load.ok << " successes, "
            << load.unavailable << " 503s, " << load.lost_sessions << " sessions lost\n";
  for (const auto& w : load.wrong) ADD_FAILURE() << "a wrong answer: " << w;
  EXPECT_EQ(load.lost_sessions.load(), 0) << "a session acknowledged before or during the move was lost";
  auto metrics = srv.get("/metrics").body;
  const long moved_n = cluster_events(metrics, "moved"), ask_n = cluster_events(metrics, "ask");
  std::cout << "redirects followed: " << moved_n << " MOVED, " << ask_n << " ASK, " << cluster_events(metrics, "retry")
            << " resends, " << cluster_events(metrics, "refresh") << " map fetches\n";
  EXPECT_GT(moved_n + ask_n, 0) << "the load met the migration";
  test::TestServer fresh(*set.nodes[1], [&](Config& c) { configure(c, set); });
  for (const auto& rt : load.ledger) {
    auto r = fresh.post("/v1/tokens/refresh", R"({"refresh_token":")" + rt + R"("})");
    EXPECT_EQ(r.status, 401) << "an acknowledged revocation was undone by the resharding: " << r.body;
  }
  std::cout << "ledger: " << load.ledger.size() << " acknowledged revocations checked after the resharding\n";
}

// SCRIPT FLUSH on one master: the next script call there gets NOSCRIPT, loads the script on
// that node and answers; the other masters are not touched.
TEST(RedisCluster, ScriptFlushOnOneNodeReloadsThere) {
  ClusterSet set;
  test::TestServer srv(*set.nodes[0], [&](Config& c) { c.redis = *parse_target(set.url()); });
  for (int i = 0; i < 9; ++i)
    ASSERT_EQ(srv.post("/v1/sessions", R"({"user_id":"sf-)" + std::to_string(i) + R"("})").status, 201);
  const std::uint16_t flushed = set.master_of(0);
  ASSERT_EQ(set.node(flushed).command({"SCRIPT", "FLUSH"}), "OK");
  for (int i = 0; i < 30; ++i) {
    auto r = srv.post("/v1/sessions", R"({"user_id":"sf-after-)" + std::to_string(i) + R"("})");
    ASSERT_EQ(r.status, 201) << r.body;
    auto token = std::string(test::json_of(r).at("token").as_string());
    ASSERT_EQ(srv.post("/v1/sessions/validate", R"({"token":")" + token + R"("})").status, 200);
  }
  // The scripts are back on the flushed node, loaded by latchkey.
  auto info = set.node(flushed).command({"INFO", "memory"});
  EXPECT_EQ(info.find("number_of_cached_scripts:0\r"), std::string::npos) << "nothing was reloaded";
}

// A manual CLUSTER FAILOVER (the replica catches up, then takes over) under load: the router
// follows the new master; no answer is wrong and no acknowledged write is lost, sessions
// included (a manual failover loses nothing, unlike a kill).
TEST(RedisCluster, ManualFailoverUnderLoadLosesNoAcknowledgedWrite) {
  ClusterSet set;
  test::TestServer srv(*set.nodes[0], [&](Config& c) { configure(c, set); });
  test::FailoverLoad load(srv);
  load.start(4);
  std::this_thread::sleep_for(1000ms);
  const std::uint16_t old_master = set.master_of(0);
  test::RedisServer* replica = nullptr;
  for (auto& n : set.nodes) {
    std::string role = n->command({"ROLE"});
    if (role.starts_with("slave\n127.0.0.1\n" + std::to_string(old_master) + "\n")) replica = n.get();
  }
  ASSERT_NE(replica, nullptr);
  ASSERT_EQ(replica->command({"CLUSTER", "FAILOVER"}), "OK");
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline && set.master_of(0) != replica->port())
    std::this_thread::sleep_for(50ms);
  ASSERT_EQ(set.master_of(0), replica->port()) << "the replica did not take over";
  const auto switched_at = load.now_ms();
  std::this_thread::sleep_for(1500ms);
  load.finish();
  EXPECT_GT(load.last_ok_ms.load(), switched_at) << "serving after the switch";
  std::cout << "manual failover under load: " << load.ok << " successes, " << load.unavailable << " 503s, "
            << load.lost_sessions << " sessions lost\n";
  for (const auto& w : load.wrong) ADD_FAILURE() << "a wrong answer: " << w;
  EXPECT_EQ(load.lost_sessions.load(), 0);
  test::TestServer fresh(*set.nodes[1], [&](Config& c) { configure(c, set); });
  for (const auto& rt : load.ledger) {
    auto r = fresh.post("/v1/tokens/refresh", R"({"refresh_token":")" + rt + R"("})");
    EXPECT_EQ(r.status, 401) << "an acknowledged revocation was undone by the failover: " << r.body;
  }
}

// rediss+cluster:// to a cluster with tls-cluster yes: the seeds and every master the map
// names are reached over TLS, each checked against its own address (the certificate names
// 127.0.0.1); the wrong CA is refused with the reason; redirects give TLS ports.
TEST(RedisCluster, OverTlsEveryNodeIsVerified) {
  test::ClusterSetOptions opts;
  opts.tls = true;
  ClusterSet set(opts);
  asio::io_context ioc{1};
  auto o = test::quick_options(set.url());
  o.tls.ca_file = test::TlsCerts::get().pem("ca");
  std::vector<std::string> lines;
  test::capture_log(o, lines);
  Connection c(ioc.get_executor(), o);
  ASSERT_EQ(first_outcome(ioc, c), "");
  int tls_links = 0;
  for (const auto& l : lines)
    tls_links += l.find("redis connection ready") != std::string::npos && l.ends_with("(TLS)");
  EXPECT_EQ(tls_links, 3) << "one TLS link per master";
  for (std::uint16_t p : set.tls_ports) {
    if (!set.node(p).command({"ROLE"}).starts_with("master")) continue;
    EXPECT_NE(c.current_endpoint().find(":" + std::to_string(p)), std::string::npos)
        << "the map names TLS ports: " << c.current_endpoint();
  }
  // A moved slot over TLS: MOVED names the target's TLS port.
  const std::string key = "lk:tls:{u9}k";
  ASSERT_EQ(test::run_awaitable(ioc, keyed(c, "SET", {key}, {"v"}))->front().str, "OK");
  ASSERT_NE(move_to_another_master(set, key), 0);
  auto r = test::run_awaitable(ioc, keyed(c, "GET", {key}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->front().str, "v");

  asio::io_context ioc2{1};
  auto bad = test::quick_options(set.url());
  bad.tls.ca_file = test::TlsCerts::get().pem("other_ca");
  Connection refused(ioc2.get_executor(), bad);
  std::string why = first_outcome(ioc2, refused);
  EXPECT_NE(why.find("certificate verify failed"), std::string::npos) << why;
}
