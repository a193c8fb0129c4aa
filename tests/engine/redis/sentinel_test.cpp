// Sentinel against real processes (SentinelSet: a master, two replicas, three sentinels on
// loopback): discovery, the ROLE check, sentinels down or hung, the two distinct failures,
// separate credentials, TLS, and a failover under load with a ledger of acknowledged
// revocations. Each scenario is bounded in time.
#include "latchkey/redis/connection.hpp"

#include "support/asio_run.hpp"
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
  ConnectionOptions o;
  o.target = *parse_target(url);
  o.call_timeout = 500ms;
  o.connect_timeout = 500ms;
  o.sentinel_timeout = 300ms;
  o.reconnect_min = 20ms;
  o.reconnect_max = 200ms;
  o.scripts = std::make_shared<const ScriptSet>(ScriptSet::embedded());
  return o;
}

std::string first_outcome(asio::io_context& ioc, Connection& c) {
  c.start();
  auto r = test::run_awaitable(ioc, c.ready_or_failed(), 15s);
  return r ? std::string() : c.last_error();
}

asio::awaitable<result<Replies>> command(Connection& c, std::vector<std::string> args) {
  Request r;
  r.push(args);
  co_return co_await c.exec(std::move(r), "test");
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
