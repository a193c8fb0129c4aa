// POST /v1/ratelimit/check over real HTTP against a real Redis: exactness under concurrency
// with parallel clients (each algorithm admits exactly the limit), GCRA spacing and bursts,
// fixed-window reset, the sliding log never exceeding the limit within a window, headers,
// costs, bad input changing nothing, keys always carrying an expiry, and Redis outages.
#include "support/test_server.hpp"

#include <gtest/gtest.h>

#include <iostream>

#include <future>
#include <thread>

using namespace latchkey;
using namespace latchkey::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

class RateLimitTest : public ::testing::Test {
 protected:
  void SetUp() override { srv = std::make_unique<TestServer>(rs); }

  HttpResult check(const std::string& key, const std::string& algorithm, int limit, int window,
                   const std::string& extra = "") {
    return srv->post("/v1/ratelimit/check", R"({"key":")" + key + R"(","algorithm":")" + algorithm + R"(","limit":)" +
                                                std::to_string(limit) + R"(,"window":)" + std::to_string(window) +
                                                extra + "}");
  }
  std::int64_t field(const HttpResult& r, const char* name) {
    auto v = json_of(r);
    if (!v.is_object() || !v.as_object().contains(name)) return -1;
    const auto& x = v.as_object().at(name);
    return x.is_bool() ? x.as_bool() : x.as_int64();
  }
  // How many of `n` parallel checks of one key were allowed.
  int parallel_allowed(const std::string& key, const std::string& algorithm, int limit, int n) {
    std::promise<void> go;
    auto ready = go.get_future().share();
    std::vector<std::future<HttpResult>> fs;
    for (int i = 0; i < n; ++i)
      fs.push_back(std::async(std::launch::async, [&, ready] {
        ready.wait();
        return check(key, algorithm, limit, 60);
      }));
    go.set_value();
    int allowed = 0;
    for (auto& f : fs) {
      auto r = f.get();
      EXPECT_TRUE(r.status == 200 || r.status == 429) << r.body;
      allowed += r.status == 200;
    }
    return allowed;
  }

  RedisServer rs;
  std::unique_ptr<TestServer> srv;
};

}  // namespace

TEST_F(RateLimitTest, OfOneHundredConcurrentChecksExactlyTheLimitIsAllowed) {
  for (const char* alg : {"fixed_window", "sliding_window", "gcra"}) {
    EXPECT_EQ(parallel_allowed(std::string("burst-") + alg, alg, 10, 100), 10) << alg;
    // Every key the scripts wrote carries an expiry.
    auto keys = rs.command({"KEYS", "lk:rl:*"});
    for (std::size_t start = 0; start < keys.size();) {
      auto end = keys.find('\n', start);
      if (end == std::string::npos) end = keys.size();
      auto k = keys.substr(start, end - start);
      start = end + 1;
      if (!k.empty()) {
        EXPECT_GT(std::stoll(rs.command({"PTTL", k})), 0) << k;
      }
    }
  }
}

TEST_F(RateLimitTest, AnswersCarryTheDecisionInBodyAndHeaders) {
  auto r = check("ip:203.0.113.9", "fixed_window", 3, 60, R"(,"cost":2)");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(field(r, "allowed"), 1);
  EXPECT_EQ(field(r, "limit"), 3);
  EXPECT_EQ(field(r, "remaining"), 1);
  EXPECT_EQ(field(r, "reset_after"), 60);
  EXPECT_EQ(field(r, "retry_after"), 0);
  EXPECT_EQ(r.header("ratelimit-policy"), "\"adhoc\";q=3;w=60");
  EXPECT_EQ(r.header("ratelimit"), "\"adhoc\";r=1;t=60");
  EXPECT_TRUE(r.header("retry-after").empty());
  auto denied = check("ip:203.0.113.9", "fixed_window", 3, 60, R"(,"cost":2)");
  ASSERT_EQ(denied.status, 429) << denied.body;
  EXPECT_EQ(error_code(denied), "rate_limited");
  EXPECT_EQ(field(denied, "allowed"), 0);
  EXPECT_EQ(field(denied, "remaining"), 1) << "a denied request consumes nothing";
  EXPECT_GE(field(denied, "retry_after"), 59);
  EXPECT_EQ(denied.header("retry-after"), std::to_string(field(denied, "retry_after")));
  EXPECT_EQ(check("ip:203.0.113.9", "fixed_window", 3, 60).status, 200) << "cost 1 still fits";
  EXPECT_EQ(check("ip:other", "fixed_window", 3, 60).status, 200) << "keys are independent";
}

TEST_F(RateLimitTest, FixedWindowResets) {
  EXPECT_EQ(check("fw", "fixed_window", 2, 1).status, 200);
  EXPECT_EQ(check("fw", "fixed_window", 2, 1).status, 200);
  EXPECT_EQ(check("fw", "fixed_window", 2, 1).status, 429);
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(check("fw", "fixed_window", 2, 1).status, 200);
}

// The sliding log: after the limit, nothing is admitted until the oldest unit is a full window
// old, and then exactly as many as left.
TEST_F(RateLimitTest, SlidingWindowNeverAdmitsMoreThanTheLimitWithinAWindow) {
  EXPECT_EQ(check("sw", "sliding_window", 3, 1).status, 200);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(check("sw", "sliding_window", 3, 1).status, 200);
  EXPECT_EQ(check("sw", "sliding_window", 3, 1).status, 200);
  auto denied = check("sw", "sliding_window", 3, 1);
  EXPECT_EQ(denied.status, 429);
  // A fixed window aligned to the first request would reset at 1 s and admit 3 more; the
  // log lets exactly one go (the first unit left), the other two only after 1.5 s.
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(check("sw", "sliding_window", 3, 1).status, 200);
  EXPECT_EQ(check("sw", "sliding_window", 3, 1).status, 429);
  EXPECT_EQ(std::stoi(rs.command({"ZCARD", rs.command({"KEYS", "lk:rl:s:*}"})})), 3);
}

// Hardening 11: the log holds one member per admitted call, not per unit: a call of cost
// 10,000 once added ~1.4 MB and blocked Redis ~15 ms. Memory and work per call no longer
// depend on the cost, and the log stays exact for weighted calls.
TEST_F(RateLimitTest, Hardening11SlidingWindowMemoryDoesNotGrowWithCost) {
  auto big = check("heavy", "sliding_window", 10000, 60, R"(,"cost":10000)");
  ASSERT_EQ(big.status, 200) << big.body;
  EXPECT_EQ(json_of(big).at("remaining").as_int64(), 0);
  std::string log = rs.command({"KEYS", "lk:rl:s:*}"});
  EXPECT_EQ(rs.command({"ZCARD", log}), "1");
  auto bytes =
      std::stoll(rs.command({"MEMORY", "USAGE", log})) + std::stoll(rs.command({"MEMORY", "USAGE", log + ":n"}));
  EXPECT_LT(bytes, 1024) << "bytes for a cost-10,000 call";
  std::cout << "sliding log after one cost-10,000 call: " << bytes << " bytes\n";
  EXPECT_EQ(check("heavy", "sliding_window", 10000, 60).status, 429);
  // Weighted calls, exactly: 4 + 4 of 10, then 4 is too many (2 remain), then 2 fits.
  EXPECT_EQ(check("w", "sliding_window", 10, 60, R"(,"cost":4)").status, 200);
  EXPECT_EQ(check("w", "sliding_window", 10, 60, R"(,"cost":4)").status, 200);
  auto over = check("w", "sliding_window", 10, 60, R"(,"cost":4)");
  EXPECT_EQ(over.status, 429);
  EXPECT_EQ(json_of(over).at("remaining").as_int64(), 2);
  EXPECT_EQ(check("w", "sliding_window", 10, 60, R"(,"cost":2)").status, 200);
  EXPECT_EQ(check("w", "sliding_window", 10, 60).status, 429);
}

TEST_F(RateLimitTest, GcraSpacesRequestsAndRefillsAtTheRate) {
  // 10 per 10 s with a burst of 2: two at once, then one per second.
  EXPECT_EQ(check("g", "gcra", 10, 10, R"(,"burst":2)").status, 200);
  EXPECT_EQ(check("g", "gcra", 10, 10, R"(,"burst":2)").status, 200);
  auto denied = check("g", "gcra", 10, 10, R"(,"burst":2)");
  EXPECT_EQ(denied.status, 429);
  EXPECT_EQ(field(denied, "retry_after"), 1);
  std::this_thread::sleep_for(1050ms);
  EXPECT_EQ(check("g", "gcra", 10, 10, R"(,"burst":2)").status, 200) << "one unit refilled";
  EXPECT_EQ(check("g", "gcra", 10, 10, R"(,"burst":2)").status, 429);
}

TEST_F(RateLimitTest, BadInputIsRejectedAndChangesNothing) {
  const std::string before = rs.dump_all();
  const std::string cases[] = {
      R"({)",
      R"([])",
      R"({"algorithm":"gcra","limit":1,"window":1})",
      R"({"key":"","algorithm":"gcra","limit":1,"window":1})",
      R"({"key":7,"algorithm":"gcra","limit":1,"window":1})",
      R"({"key":")" + std::string(513, 'k') + R"(","algorithm":"gcra","limit":1,"window":1})",
      R"({"key":"k","algorithm":"leaky","limit":1,"window":1})",
      R"({"key":"k","limit":1,"window":1})",
      R"({"key":"k","algorithm":"gcra","window":1})",
      R"({"key":"k","algorithm":"gcra","limit":1})",
      R"({"key":"k","algorithm":"gcra","limit":0,"window":1})",
      R"({"key":"k","algorithm":"gcra","limit":"5","window":1})",
      R"({"key":"k","algorithm":"gcra","limit":1.5,"window":1})",
      R"({"key":"k","algorithm":"gcra","limit":1,"window":86401})",
      R"({"key":"k","algorithm":"sliding_window","limit":10001,"window":1})",
      R"({"key":"k","algorithm":"fixed_window","limit":5,"window":1,"cost":6})",
      R"({"key":"k","algorithm":"fixed_window","limit":5,"window":1,"cost":0})",
      R"({"key":"k","algorithm":"fixed_window","limit":5,"window":1,"burst":2})",
      R"({"key":"k","algorithm":"gcra","limit":5,"window":1,"burst":2,"cost":3})",
      R"({"key":"k","algorithm":"gcra","limit":5,"window":1,"extra":1})",
      R"({"key":"k","policy":"login"})",
  };
  for (const auto& body : cases) {
    auto r = srv->post("/v1/ratelimit/check", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(error_code(r), "invalid_request") << body;
  }
  EXPECT_EQ(srv->post("/v1/ratelimit/check", "{}", {{"Authorization", ""}}).status, 401);
  EXPECT_EQ(srv->post("/v1/ratelimit/check", "x", {{"Content-Type", "text/plain"}}).status, 415);
  EXPECT_EQ(srv->post("/v1/ratelimit/check", std::string(70000, ' ')).status, 413);
  EXPECT_EQ(rs.dump_all(), before);
}

TEST_F(RateLimitTest, RedisDownFailsClosed) {
  EXPECT_EQ(check("down", "gcra", 5, 1).status, 200);
  rs.kill();
  auto r = check("down", "gcra", 5, 1);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_EQ(r.body.find("\"allowed\":true"), std::string::npos);
  rs.start();
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    back = check("down", "gcra", 5, 1).status == 200;
    if (!back) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(back) << "recovers without a restart";
}

// Named policies from the configuration: their own counters, shadow mode and the choice of
// failing open.
class RateLimitPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    srv = std::make_unique<TestServer>(rs, [](Config& c) {
      c.ratelimit_policies =
          "login:sliding_window:2/60, api:gcra:5/1:burst=2:fail_open, trial:fixed_window:1/60:shadow";
    });
  }
  HttpResult check(const std::string& policy, const std::string& key) {
    return srv->post("/v1/ratelimit/check", R"({"policy":")" + policy + R"(","key":")" + key + R"("})");
  }
  RedisServer rs;
  std::unique_ptr<TestServer> srv;
};

TEST_F(RateLimitPolicyTest, NamedPoliciesShadowModeAndMetrics) {
  EXPECT_EQ(check("login", "alice").status, 200);
  EXPECT_EQ(check("login", "alice").status, 200);
  auto denied = check("login", "alice");
  EXPECT_EQ(denied.status, 429);
  EXPECT_EQ(denied.header("ratelimit-policy"), "\"login\";q=2;w=60");
  // The same key under an ad-hoc limit is another counter.
  EXPECT_EQ(
      srv->post("/v1/ratelimit/check", R"({"key":"alice","algorithm":"sliding_window","limit":2,"window":60})").status,
      200);
  // Shadow: decided and counted, never denied.
  EXPECT_EQ(check("trial", "bob").status, 200);
  auto shadow = check("trial", "bob");
  EXPECT_EQ(shadow.status, 200) << shadow.body;
  EXPECT_EQ(json_of(shadow).at("shadow_denied").as_bool(), true);
  EXPECT_EQ(json_of(shadow).at("allowed").as_bool(), true);
  auto m = srv->get("/metrics").body;
  EXPECT_NE(m.find(R"(latchkey_ratelimit_decisions_total{policy="login",decision="allowed"} 2)"), std::string::npos)
      << m;
  EXPECT_NE(m.find(R"(latchkey_ratelimit_decisions_total{policy="login",decision="denied"} 1)"), std::string::npos);
  EXPECT_NE(m.find(R"(latchkey_ratelimit_decisions_total{policy="trial",decision="shadow_denied"} 1)"),
            std::string::npos);
  // A policy fixes its limit: the request cannot change it.
  auto mixed = srv->post("/v1/ratelimit/check", R"({"policy":"login","key":"x","limit":100})");
  EXPECT_EQ(mixed.status, 400);
  EXPECT_EQ(check("nope", "x").status, 400);
  EXPECT_EQ(srv->post("/v1/ratelimit/check", R"({"policy":"login","key":"x","cost":3})").status, 400)
      << "cost above the limit";
}

TEST_F(RateLimitPolicyTest, RedisDownFailsClosedUnlessThePolicyFailsOpen) {
  rs.kill();
  auto closed = check("login", "alice");
  EXPECT_EQ(closed.status, 503) << closed.body;
  EXPECT_FALSE(closed.header("retry-after").empty());
  auto open = check("api", "alice");
  EXPECT_EQ(open.status, 200) << open.body;
  EXPECT_EQ(json_of(open).at("fail_open").as_bool(), true) << "the answer says what happened";
  EXPECT_NE(srv->get("/metrics").body.find(R"(decision="fail_open"} 1)"), std::string::npos);
}
