// The Redis engine against a real redis-server: pipelining many callers over one socket,
// EVALSHA with reload after SCRIPT FLUSH, deadlines, reconnect after a kill, AUTH/SELECT,
// the maxmemory-policy guard, and start-up while Redis is down.
#include "latchkey/redis/connection.hpp"

#include "latchkey/metrics.hpp"
#include "latchkey/log.hpp"
#include "support/asio_run.hpp"
#include "support/redis_connection.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

using namespace latchkey;
using namespace latchkey::redis;
using test::RedisServer;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct Logs {
  std::mutex mu;
  std::vector<std::string> lines;
  bool contains(std::string_view s) {
    std::lock_guard l(mu);
    for (auto& x : lines)
      if (x.find(s) != std::string::npos) return true;
    return false;
  }
};

ConnectionOptions options(const RedisServer& rs, Logs* logs = nullptr, std::string url = "") {
  ConnectionOptions o;
  o.target = *parse_target(url.empty() ? rs.url() : url);
  o.call_timeout = 500ms;
  o.connect_timeout = 500ms;
  o.reconnect_min = 20ms;
  o.reconnect_max = 200ms;
  o.scripts = std::make_shared<const ScriptSet>(ScriptSet::embedded());
  if (logs)
    o.log = [logs](log::Level level, std::string_view msg) {
      std::lock_guard l(logs->mu);
      logs->lines.push_back(std::string(log::level_name(level)) + ": " + std::string(msg));
    };
  return o;
}

// A started connection that has completed its handshake.
std::unique_ptr<Connection> ready_connection(asio::io_context& ioc, ConnectionOptions opts) {
  auto c = std::make_unique<Connection>(ioc.get_executor(), std::move(opts));
  c->start();
  EXPECT_TRUE(test::run_until(ioc, [&] { return c->ready(); })) << c->last_error();
  return c;
}

asio::awaitable<result<Replies>> exec(Connection& c, std::vector<std::string> args) {
  Request r;
  r.push(args);
  co_return co_await c.exec(std::move(r), "test");
}

}  // namespace

TEST(RedisConnection, ExecReturnsTypedRepliesAndErrorValues) {
  RedisServer rs;
  asio::io_context ioc{1};
  auto conn = ready_connection(ioc, options(rs));
  ASSERT_TRUE(conn->ready());
  Connection& c = *conn;

  Request pipeline;
  pipeline.push({"SET", "lk:test:a", "1", "EX", "60"})
      .push({"INCR", "lk:test:a"})
      .push({"HGET", "lk:test:a", "x"})
      .push({"GET", "lk:test:none"});
  auto r = test::run_awaitable(ioc, c.exec(std::move(pipeline), "test"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].str, "OK");
  EXPECT_EQ((*r)[1].integer, 2);
  EXPECT_TRUE((*r)[2].is_error());  // WRONGTYPE is a value in its slot
  EXPECT_EQ((*r)[2].error_code(), "WRONGTYPE");
  EXPECT_TRUE((*r)[3].is_nil());
}

TEST(RedisConnection, ManyConcurrentCallersOnOneSocketGetTheirOwnReplies) {
  RedisServer rs;
  asio::io_context ioc{1};
  Metrics metrics;
  auto opts = options(rs);
  opts.metrics = &metrics;
  auto conn = ready_connection(ioc, opts);
  ASSERT_TRUE(conn->ready());
  Connection& c = *conn;

  constexpr int kCallers = 2000;
  std::vector<std::string> got(kCallers);
  int done = 0, wrong = 0;
  for (int i = 0; i < kCallers; ++i) {
    asio::co_spawn(
        ioc,
        [&, i]() -> asio::awaitable<void> {
          std::string mine = "value-" + std::to_string(i);
          Request r;
          r.push({"SET", "lk:test:k" + std::to_string(i), mine, "EX", "60"})
              .push({"GET", "lk:test:k" + std::to_string(i)});
          auto rep = co_await c.exec(std::move(r), "command");
          if (!rep || (*rep)[1].str != mine)
            ++wrong;
          else
            got[i] = (*rep)[1].str;
          ++done;
        },
        asio::detached);
  }
  ASSERT_TRUE(test::run_until(ioc, [&] { return done == kCallers; }));
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(c.connects(), 1u) << "all calls must share one connection";
  // Pipelining: far fewer client connections than callers ever existed on the server.
  std::string clients = rs.command({"CLIENT", "LIST"});
  EXPECT_LE(std::count(clients.begin(), clients.end(), '\n'), 2);
  EXPECT_NE(Metrics::render({&metrics}).find("latchkey_redis_calls_total{op=\"command\"} 2000"), std::string::npos);
}

TEST(RedisConnection, ScriptIsReloadedAfterScriptFlush) {
  RedisServer rs;
  asio::io_context ioc{1};
  Logs logs;
  auto conn = ready_connection(ioc, options(rs, &logs));
  ASSERT_TRUE(conn->ready());
  Connection& c = *conn;
  auto eval = [&] {
    return test::run_awaitable(ioc,
                               c.eval("ping", std::vector<std::string>{"lk:probe:{t}"}, std::vector<std::string>{}));
  };
  auto first = eval();
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->is_array());
  std::string sha = ScriptSet::embedded().find("ping")->sha1;
  EXPECT_EQ(rs.command({"SCRIPT", "EXISTS", sha}), "1");

  EXPECT_EQ(rs.command({"SCRIPT", "FLUSH"}), "OK");
  EXPECT_EQ(rs.command({"SCRIPT", "EXISTS", sha}), "0");
  auto second = eval();
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_TRUE(second->is_array());
  EXPECT_EQ(rs.command({"SCRIPT", "EXISTS", sha}), "1");
  EXPECT_TRUE(logs.contains("NOSCRIPT"));
  // Every key the probe writes has a TTL.
  auto ttl = std::stoi(rs.command({"TTL", "lk:probe:{t}"}));
  EXPECT_GT(ttl, 0);
}

// eval_after: the commands before the script travel in the same round trip, and after a
// lost script cache they are answered once, in order, with the script's reply last.
TEST(RedisConnection, EvalAfterKeepsItsLeadingCommandsThroughAReload) {
  RedisServer rs;
  asio::io_context ioc{1};
  auto conn = ready_connection(ioc, options(rs));
  ASSERT_TRUE(conn->ready());
  rs.command({"SET", "a", "1"});
  auto run = [&] {
    Request before;
    before.push({"GET", "a"});
    before.push({"INCR", "n"});
    return test::run_awaitable(ioc,
                               conn->eval_after(std::move(before), "ping", std::vector<std::string>{"lk:probe:{t}"},
                                                std::vector<std::string>{}));
  };
  auto first = run();
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ((*first)[0].str, "1");
  EXPECT_TRUE((*first)[2].is_array());
  EXPECT_EQ(rs.command({"SCRIPT", "FLUSH"}), "OK");
  auto second = run();
  ASSERT_TRUE(second) << second.error().message();
  ASSERT_EQ(second->size(), 3u) << "the SCRIPT LOAD reply is not among them";
  EXPECT_EQ((*second)[0].str, "1");
  EXPECT_TRUE((*second)[2].is_array());
  // The leading commands ran once per attempt (twice for the reloaded call): callers send
  // only reads there.
  EXPECT_EQ(rs.command({"GET", "n"}), "3");
}

TEST(RedisConnection, KilledMidLoadFailsFastThenReconnectsByItself) {
  RedisServer rs;
  asio::io_context ioc{1};
  auto opts = options(rs);
  auto conn = ready_connection(ioc, opts);
  ASSERT_TRUE(conn->ready());
  Connection& c = *conn;

  std::atomic<bool> stop_load{false};
  int ok = 0, failed = 0, in_flight = 0;
  std::chrono::steady_clock::duration slowest_failure{};
  for (int w = 0; w < 50; ++w) {
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          ++in_flight;
          while (!stop_load) {
            auto t0 = std::chrono::steady_clock::now();
            std::vector<std::string> incr{"INCR", "lk:test:counter"};
            auto r = co_await exec(c, std::move(incr));
            auto took = std::chrono::steady_clock::now() - t0;
            if (r)
              ++ok;
            else {
              ++failed;
              slowest_failure = std::max(slowest_failure, took);
              EXPECT_TRUE(r.error() == make_error_code(errc::unavailable) ||
                          r.error() == make_error_code(errc::timeout))
                  << r.error().message();
              asio::steady_timer pause(co_await asio::this_coro::executor, 5ms);
              co_await pause.async_wait(asio::use_awaitable);
            }
          }
          --in_flight;
        },
        asio::detached);
  }
  ASSERT_TRUE(test::run_until(ioc, [&] { return ok > 2000; }));
  rs.kill();
  int failed_before = failed;
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return failed > failed_before + 200; }, 5s));
  EXPECT_FALSE(c.ready());
  // No call hangs past its deadline: every failure arrived within the call timeout (plus
  // scheduling slack), most of them at once because the socket is known dead.
  EXPECT_LT(slowest_failure, opts.call_timeout + 1000ms);

  rs.start();
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return c.ready(); }, 10s))
      << c.last_error();
  int ok_after = ok;
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return ok > ok_after + 1000; }, 10s));
  EXPECT_GE(c.connects(), 2u);
  stop_load = true;
  ASSERT_TRUE(test::run_until(ioc, [&] { return in_flight == 0; }));
}

TEST(RedisConnection, FrozenServerTimesOutAtTheDeadlineThenRecovers) {
  RedisServer rs;
  asio::io_context ioc{1};
  auto conn = ready_connection(ioc, options(rs));
  ASSERT_TRUE(conn->ready());
  Connection& c = *conn;
  rs.pause();
  auto t0 = std::chrono::steady_clock::now();
  auto r = test::run_awaitable(ioc, exec(c, {"GET", "x"}));
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::timeout));
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 1500ms);
  // While frozen, calls fail at once instead of queueing behind the dead pipeline.
  auto r2 = test::run_awaitable(ioc, exec(c, {"GET", "x"}));
  EXPECT_FALSE(r2);
  rs.resume();
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return c.ready(); }, 10s))
      << c.last_error();
  auto r3 = test::run_awaitable(ioc, exec(c, {"PING"}));
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->front().str, "PONG");
}

TEST(RedisConnection, AuthAndSelectFromTheUrl) {
  RedisServer rs({"--requirepass", "s3cret"});
  asio::io_context ioc{1};
  std::string url = "redis://:s3cret@127.0.0.1:" + std::to_string(rs.port()) + "/3";
  auto conn = ready_connection(ioc, options(rs, nullptr, url));
  ASSERT_TRUE(conn->ready());
  Connection& c = *conn;
  ASSERT_TRUE(test::run_awaitable(ioc, exec(c, {"SET", "lk:test:db3", "yes", "EX", "60"})));
  EXPECT_EQ(rs.command({"GET", "lk:test:db3"}, 3).substr(0, 10), "ERR:NOAUTH");  // the server does require it

  Logs logs;
  std::string bad = "redis://:wrong@127.0.0.1:" + std::to_string(rs.port()) + "/3";
  Connection wrong(ioc.get_executor(), options(rs, &logs, bad));
  wrong.start();
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return logs.contains("refused the credentials"); }, 5s));
  EXPECT_FALSE(wrong.ready());
  EXPECT_TRUE(wrong.refused_credentials());
  EXPECT_FALSE(wrong.refused_eviction_policy());
  EXPECT_FALSE(logs.contains("wrong")) << "the password must not be logged";

  // No password at all: named as such, not as a maxmemory-policy problem.
  Logs none_logs;
  Connection none(ioc.get_executor(), options(rs, &none_logs, rs.url(3)));
  none.start();
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return none_logs.contains("requires a password"); }, 5s));
  EXPECT_TRUE(none.refused_credentials());
  EXPECT_FALSE(none_logs.contains("maxmemory")) << "the eviction guard is not what failed";
  wrong.stop();
  none.stop();
}

TEST(RedisConnection, SelectsTheDatabase) {
  RedisServer rs;
  asio::io_context ioc{1};
  auto conn = ready_connection(ioc, options(rs, nullptr, rs.url(5)));
  ASSERT_TRUE(conn->ready());
  Connection& c = *conn;
  ASSERT_TRUE(test::run_awaitable(ioc, exec(c, {"SET", "lk:test:db5", "here", "EX", "60"})));
  EXPECT_EQ(rs.command({"GET", "lk:test:db5"}, 5), "here");
  EXPECT_EQ(rs.command({"GET", "lk:test:db5"}, 0), "(nil)");
}

TEST(RedisConnection, RefusesAnEvictingServerUnlessAllowed) {
  RedisServer rs({"--maxmemory-policy", "volatile-lru"});
  asio::io_context ioc{1};
  Logs logs;
  Connection c(ioc.get_executor(), options(rs, &logs));
  c.start();
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return c.refused_eviction_policy(); }, 5s));
  EXPECT_FALSE(c.ready());
  EXPECT_NE(c.last_error().find("volatile-lru"), std::string::npos);
  EXPECT_NE(c.last_error().find("noeviction"), std::string::npos);
  auto r = test::run_awaitable(ioc, exec(c, {"PING"}));
  EXPECT_EQ(r.error(), make_error_code(errc::unavailable));

  auto allowed = options(rs, &logs);
  allowed.allow_eviction = true;
  Connection c2(ioc.get_executor(), allowed);
  c2.start();
  ASSERT_TRUE(test::run_until(ioc, [&] { return c2.ready(); }));
  EXPECT_TRUE(logs.contains("allowed by redis_allow_eviction"));
}

TEST(RedisConnection, WarnsWhenConfigIsNotPermitted) {
  RedisServer rs({"--rename-command", "CONFIG", "\"\""});
  asio::io_context ioc{1};
  Logs logs;
  auto conn = ready_connection(ioc, options(rs, &logs));
  ASSERT_TRUE(conn->ready());
  EXPECT_TRUE(logs.contains("cannot read maxmemory-policy"));
}

TEST(RedisConnection, StartsWhileRedisIsDownAndConnectsWhenItAppears) {
  RedisServer rs;
  rs.kill();
  asio::io_context ioc{1};
  Connection c(ioc.get_executor(), options(rs));
  c.start();
  test::run_until(
      ioc, [] { return false; }, 200ms);
  EXPECT_FALSE(c.ready());
  auto t0 = std::chrono::steady_clock::now();
  auto r = test::run_awaitable(ioc, exec(c, {"PING"}));
  EXPECT_EQ(r.error(), make_error_code(errc::unavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms) << "no queueing behind a dead connection";
  rs.start();
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return c.ready(); }, 10s))
      << c.last_error();
}

TEST(RedisConnection, StopFailsPendingCallsAndStopsReconnecting) {
  RedisServer rs;
  asio::io_context ioc{1};
  auto conn = ready_connection(ioc, options(rs));
  ASSERT_TRUE(conn->ready());
  Connection& c = *conn;
  rs.pause();
  std::optional<result<Replies>> pending;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        std::vector<std::string> get{"GET", "x"};
        pending = co_await exec(c, std::move(get));
      },
      asio::detached);
  test::run_until(
      ioc, [] { return false; }, 50ms);
  c.stop();
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return pending.has_value(); }, 2s));
  EXPECT_FALSE(*pending);
  EXPECT_EQ(c.state(), ConnState::stopped);
  rs.resume();
}

// ready_or_failed(): the awaitable a caller that must know now waits for (no polling of
// last_error() text): ready, or the first failed attempt after the call, whichever comes.
TEST(RedisConnection, ReadyOrFailedAnswersWithoutPolling) {
  RedisServer rs;
  asio::io_context ioc{1};
  Connection up(ioc.get_executor(), options(rs));
  up.start();
  auto ok = test::run_awaitable(ioc, up.ready_or_failed());
  EXPECT_TRUE(ok);
  EXPECT_TRUE(up.ready());
  // Already ready: at once.
  EXPECT_TRUE(test::run_awaitable(ioc, up.ready_or_failed()));

  auto closed = options(rs, nullptr, "redis://127.0.0.1:" + std::to_string(test::free_port()) + "/0");
  Connection down(ioc.get_executor(), closed);
  down.start();
  auto started = std::chrono::steady_clock::now();
  auto failed = test::run_awaitable(ioc, down.ready_or_failed());
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), make_error_code(errc::unavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_NE(down.last_error().find("failed"), std::string::npos) << down.last_error();

  RedisServer evicting({"--maxmemory-policy", "allkeys-lru"});
  Connection refused(ioc.get_executor(), options(evicting));
  refused.start();
  EXPECT_FALSE(test::run_awaitable(ioc, refused.ready_or_failed()));
  EXPECT_TRUE(refused.refused_eviction_policy());
  up.stop();
  down.stop();
  refused.stop();
}

TEST(RedisConnection, ATaskThatThrowsIsLoggedNotLost) {
  testing::internal::CaptureStderr();
  log::LogFailure{"test task"}(std::make_exception_ptr(std::runtime_error("boom")));
  log::LogFailure{"quiet task"}(nullptr);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("test task ended with an exception: boom"), std::string::npos) << err;
  EXPECT_EQ(err.find("quiet task"), std::string::npos) << err;
}

// The cluster's rule holds on standalone Redis too: a command naming keys of two slots is
// refused before it is sent (so the suite, run on standalone Redis, catches any call site
// that would fail with CROSSSLOT on a cluster); keys of one tag, or a pipeline of commands of
// different slots, go.
TEST(RedisConnection, ACommandSpanningSlotsIsRefusedOnEveryTopology) {
  RedisServer rs;
  asio::io_context ioc{1};
  std::vector<std::string> lines;
  auto o = test::quick_options(rs.url());
  test::capture_log(o, lines);
  Connection c(ioc.get_executor(), o);
  ASSERT_EQ(test::first_outcome(ioc, c), "");
  Request cross;
  cross.begin(5).arg("MSET").key("lk:a:{x1}").arg("1").key("lk:a:{y2}").arg("2");
  auto refused = test::run_awaitable(ioc, c.exec(std::move(cross), "test"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), make_error_code(errc::internal));
  EXPECT_EQ(rs.command({"EXISTS", "lk:a:{x1}", "lk:a:{y2}"}), "0") << "nothing was sent";
  bool logged = false;
  for (const auto& l : lines) logged = logged || l.find("names keys of two slots (CROSSSLOT)") != std::string::npos;
  EXPECT_TRUE(logged);
  Request same;
  same.begin(5).arg("MSET").key("lk:a:{x1}1").arg("1").key("lk:a:{x1}2").arg("2");
  same.begin(2).arg("GET").key("lk:a:{y2}");
  auto sent = test::run_awaitable(ioc, c.exec(std::move(same), "test"));
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->front().str, "OK");
}
