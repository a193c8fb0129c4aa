// Sentinel against real processes (SentinelSet: a master, two replicas, three sentinels on
// loopback): discovery, the ROLE check, sentinels down or hung, the two distinct failures,
// separate credentials, TLS, and a failover under load with a ledger of acknowledged
// revocations. Each scenario is bounded in time.
#include "latchkey/redis/connection.hpp"

#include "support/failover_load.hpp"
#include "support/redis_connection.hpp"
#include "support/sentinel_set.hpp"
#include "support/test_server.hpp"
#include "support/tls_certs.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

using namespace latchkey;
using namespace latchkey::redis;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using test::command;
using test::first_outcome;
using test::SentinelSet;
using test::SentinelSetOptions;

namespace {

SentinelSetOptions with(int replicas, std::string data_pw = "", std::string sentinel_pw = "", bool tls = false) {
  SentinelSetOptions o;
  o.replicas = replicas;
  o.data_password = std::move(data_pw);
  o.sentinel_password = std::move(sentinel_pw);
  o.tls = tls;
  return o;
}

ConnectionOptions sentinel_options(const std::string& url) {
  auto o = test::quick_options(url);
  o.reconnect_max = 200ms;
  return o;
}

std::string port_text(std::uint16_t p) { return ":" + std::to_string(p) + "/"; }

}  // namespace

TEST(RedisSentinel, FindsTheMasterThroughTheSentinels) {
  SentinelSet set;
  asio::io_context ioc{1};
  Connection c(ioc.get_executor(), sentinel_options(set.url()));
  ASSERT_EQ(first_outcome(ioc, c), "");
  EXPECT_NE(c.current_endpoint().find(port_text(set.nodes[0]->port())), std::string::npos) << c.current_endpoint();
  std::vector<std::string> set_cmd{"SET", "lk:sentinel:x", "1"};
  auto r = test::run_awaitable(ioc, command(c, set_cmd));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->front().str, "OK");
  EXPECT_EQ(c.master_changes(), 0u);
}

TEST(RedisSentinel, FirstSentinelDownOrHungIsSkipped) {
  SentinelSet set;
  const auto url_of = [&](std::vector<std::size_t> order) {
    std::string u = "redis+sentinel://";
    for (std::size_t i = 0; i < order.size(); ++i)
      u += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(set.sentinels[order[i]]->port());
    return u + "/mymaster";
  };
  set.sentinels[0]->pause();  // hung: accepts connections (the kernel does), never answers
  {
    asio::io_context ioc{1};
    Connection c(ioc.get_executor(), sentinel_options(url_of({0, 1})));
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(first_outcome(ioc, c), "");
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, 3s) << "the hung sentinel costs its timeout, not a hang";
    std::cout << "first sentinel hung: ready after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  }
  set.sentinels[0]->resume();
  set.sentinels[0]->kill();
  {
    asio::io_context ioc{1};
    Connection c(ioc.get_executor(), sentinel_options(url_of({0, 2})));
    ASSERT_EQ(first_outcome(ioc, c), "");
  }
}

TEST(RedisSentinel, NoSentinelReachableAndUnknownMasterAreDistinct) {
  SentinelSet set(with(1));
  {
    asio::io_context ioc{1};
    Connection wrong(ioc.get_executor(), sentinel_options(set.url("nosuchmaster")));
    std::string why = first_outcome(ioc, wrong);
    EXPECT_NE(why.find("do not know master 'nosuchmaster'"), std::string::npos) << why;
    EXPECT_TRUE(wrong.refused_configuration()) << "a configuration error at start";
  }
  for (auto& s : set.sentinels) s->kill();
  {
    asio::io_context ioc{1};
    Connection none(ioc.get_executor(), sentinel_options(set.url()));
    auto t0 = std::chrono::steady_clock::now();
    std::string why = first_outcome(ioc, none);
    EXPECT_NE(why.find("no sentinel reachable"), std::string::npos) << why;
    EXPECT_FALSE(none.refused_configuration()) << "an outage: keep trying";
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  }
}

TEST(RedisSentinel, SentinelCredentialsAreNotTheDataNodes) {
  SentinelSet set(with(1, "data-pw", "sentinel-pw"));
  {
    asio::io_context ioc{1};
    auto o = sentinel_options(set.url());
    o.sentinel_password = "sentinel-pw";
    Connection c(ioc.get_executor(), o);
    ASSERT_EQ(first_outcome(ioc, c), "");
    std::vector<std::string> set_cmd{"SET", "lk:sentinel:auth", "1"};
    ASSERT_TRUE(test::run_awaitable(ioc, command(c, set_cmd)));
  }
  {
    asio::io_context ioc{1};
    Connection c(ioc.get_executor(), sentinel_options(set.url()));  // no sentinel password
    std::string why = first_outcome(ioc, c);
    EXPECT_NE(why.find("refused to authenticate"), std::string::npos) << why;
    EXPECT_EQ(why.find("data-pw"), std::string::npos);
  }
  {
    asio::io_context ioc{1};
    auto o = sentinel_options(set.url());
    o.sentinel_password = "data-pw";  // the data nodes' password is not the sentinels'
    Connection c(ioc.get_executor(), o);
    std::string why = first_outcome(ioc, c);
    EXPECT_NE(why.find("refused"), std::string::npos) << why;
    EXPECT_EQ(why.find("data-pw"), std::string::npos) << "never a password in a message";
  }
}

TEST(RedisSentinel, OverTls) {
  SentinelSet set(with(1, "", "", true));
  asio::io_context ioc{1};
  auto o = sentinel_options(set.url());
  o.tls.ca_file = test::TlsCerts::get().pem("ca");
  Connection c(ioc.get_executor(), o);
  ASSERT_EQ(first_outcome(ioc, c), "");
  EXPECT_NE(c.current_endpoint().find(port_text(set.tls_ports[0])), std::string::npos) << c.current_endpoint();
  // The wrong CA fails at the sentinels already, naming the reason.
  asio::io_context ioc2{1};
  o.tls.ca_file = test::TlsCerts::get().pem("other_ca");
  Connection bad(ioc2.get_executor(), o);
  std::string why = first_outcome(ioc2, bad);
  EXPECT_NE(why.find("certificate verify failed"), std::string::npos) << why;
}

// rediss+sentinel:// with redis_sentinel_tls=false: TLS to the data nodes, plaintext to the
// sentinels (their plaintext ports here). With sentinel TLS on, the same plaintext sentinel
// ports refuse the TLS handshake, which proves the option is what decides.
TEST(RedisSentinel, TlsDataNodesWithPlaintextSentinels) {
  SentinelSet set(with(1, "", "", true));
  std::string url = "rediss+sentinel://";
  for (std::size_t i = 0; i < set.sentinels.size(); ++i)
    url += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(set.sentinels[i]->port());
  url += "/" + SentinelSetOptions{}.master_name;
  auto o = sentinel_options(url);
  o.tls.ca_file = test::TlsCerts::get().pem("ca");
  o.sentinel_tls = false;
  {
    asio::io_context ioc{1};
    std::vector<std::string> lines;
    test::capture_log(o, lines);
    Connection c(ioc.get_executor(), o);
    ASSERT_EQ(first_outcome(ioc, c), "");
    EXPECT_NE(c.current_endpoint().find(port_text(set.tls_ports[0])), std::string::npos) << c.current_endpoint();
    bool tls_ready = false;
    for (const auto& l : lines)
      tls_ready = tls_ready || (l.starts_with("redis connection ready") && l.ends_with("(TLS)"));
    EXPECT_TRUE(tls_ready) << "the data node is reached over TLS";
    auto r = test::run_awaitable(ioc, command(c, {"PING"}));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->front().str, "PONG");
  }
  {
    o.log = nullptr;
    o.sentinel_tls = true;
    asio::io_context ioc{1};
    Connection c(ioc.get_executor(), o);
    std::string why = first_outcome(ioc, c);
    EXPECT_NE(why.find("sentinel"), std::string::npos) << why;
    EXPECT_FALSE(c.ready());
  }
}

namespace {

void configure(Config& c, const SentinelSet& set) {
  c.redis = *parse_target(set.url());
  c.redis_wait_replicas = static_cast<unsigned>(set.options().replicas);
  c.redis_wait_timeout = 800ms;
  c.redis_timeout = 1500ms;
  c.redis_connect_timeout = 500ms;
  c.redis_reconnect_max = 200ms;
}

// Every acknowledged revocation is still in force, read through a new server (new links).
void check_ledger(test::RedisServer& any, const SentinelSet& set, const std::vector<std::string>& ledger) {
  test::TestServer fresh(any, [&](Config& c) { configure(c, set); });
  int checked = 0;
  for (const auto& rt : ledger) {
    auto r = fresh.post("/v1/tokens/refresh", R"({"refresh_token":")" + rt + R"("})");
    EXPECT_EQ(r.status, 401) << "an acknowledged revocation was undone by the failover: " << r.body;
    ++checked;
  }
  std::cout << "ledger: " << checked << " acknowledged revocations checked on the new master\n";
}

}  // namespace

TEST(RedisSentinel, MasterKilledUnderLoadRecoversAndKeepsAcknowledgedRevocations) {
  SentinelSet set;
  const std::uint16_t old = set.nodes[0]->port();
  test::TestServer srv(*set.nodes[1], [&](Config& c) { configure(c, set); });
  test::FailoverLoad load(srv);
  load.start(4);
  std::this_thread::sleep_for(1500ms);
  ASSERT_GT(load.ok.load(), 0);
  const auto killed_at = load.now_ms();
  set.nodes[0]->kill();
  ASSERT_TRUE(set.wait_for_new_master(old, 20s)) << "no failover";
  // Recovered: successes again after the kill, without a restart.
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (load.last_ok_ms.load() <= killed_at + 100 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  // The first success after the outage began; requests answered in between were 503s.
  const auto recovered_at = load.last_ok_ms.load();
  std::this_thread::sleep_for(1500ms);
  load.finish();
  ASSERT_GT(recovered_at, killed_at + 100) << "latchkey did not recover";
  std::cout << "kill -9 of the master: answers again " << (recovered_at - killed_at)
            << " ms after the kill (detection 1000 ms + failover + reconnect); " << load.ok << " successes, "
            << load.unavailable << " 503s, " << load.lost_sessions << " sessions lost with the old master\n";
  for (const auto& w : load.wrong) ADD_FAILURE() << "a wrong answer: " << w;
  auto ready = test::ready_within(srv, 15s);
  ASSERT_EQ(ready.status, 200) << ready.body;
  auto info = test::json_of(ready).at("redis").as_object();
  EXPECT_EQ(std::string(info.at("endpoint").as_string()).find(port_text(old)), std::string::npos)
      << "still on the killed master";
  EXPECT_GE(info.at("master_changes").as_int64(), 1);
  auto metrics = srv.get("/metrics").body;
  const std::string changes = "latchkey_redis_master_changes_total{shard=\"0\"} ";
  auto at = metrics.find(changes);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_GE(std::stol(metrics.substr(at + changes.size())), 1) << metrics;
  EXPECT_EQ(metrics.find("latchkey_redis_endpoint_info{shard=\"0\",endpoint=\"127.0.0.1" + port_text(old)),
            std::string::npos)
      << metrics;
  check_ledger(*set.nodes[1], set, load.ledger);
}

TEST(RedisSentinel, AFrozenOldMasterIsNotUsedAgainWhenItResumes) {
  SentinelSet set(with(1));
  const std::uint16_t old = set.nodes[0]->port();
  test::TestServer srv(*set.nodes[1], [&](Config& c) { configure(c, set); });
  test::FailoverLoad load(srv);
  load.start(2);
  std::this_thread::sleep_for(1000ms);
  set.nodes[0]->pause();  // SIGSTOP: keeps its sockets, comes back believing it is the master
  ASSERT_TRUE(set.wait_for_new_master(old, 20s)) << "no failover";
  set.nodes[0]->resume();
  const auto resumed_at = load.now_ms();
  std::this_thread::sleep_for(3000ms);  // the sentinels demote it meanwhile
  load.finish();
  EXPECT_GT(load.last_ok_ms.load(), resumed_at) << "serving after the old master came back";
  for (const auto& w : load.wrong) ADD_FAILURE() << "a wrong answer: " << w;
  auto ready = test::ready_within(srv, 15s);
  ASSERT_EQ(ready.status, 200) << ready.body;
  auto info = test::json_of(ready).at("redis").as_object();
  EXPECT_EQ(std::string(info.at("endpoint").as_string()).find(port_text(old)), std::string::npos)
      << "back on the old master";
  // The sentinels turn the old master into a replica of the new one.
  auto demoted_by = std::chrono::steady_clock::now() + 20s;
  while (!set.data_command(old, {"ROLE"}).starts_with("slave") && std::chrono::steady_clock::now() < demoted_by)
    std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(set.data_command(old, {"ROLE"}).starts_with("slave")) << set.data_command(old, {"ROLE"});
  check_ledger(*set.nodes[1], set, load.ledger);
}
