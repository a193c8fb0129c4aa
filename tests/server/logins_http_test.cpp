// /v1/logins/... and /v1/users/{user_id}/lockout over real HTTP against a real Redis: the
// answers' shapes, the admin view and unlock, bad input changing nothing, Redis outages.
// (Lockout sequences with an injected clock: tests/engine/guard/logins_test.cpp.)
#include "support/test_server.hpp"

#include "latchkey/identity.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/sessions.hpp"

#include <gtest/gtest.h>

#include <future>
#include <set>

using namespace latchkey;
using namespace latchkey::test;
namespace json = boost::json;

namespace {

class LoginsHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    srv = std::make_unique<TestServer>(rs, [](Config& c) { c.login_max_failures = 2; });
  }
  HttpResult post(const std::string& what, const std::string& body) { return srv->post("/v1/logins/" + what, body); }
  RedisServer rs;
  std::unique_ptr<TestServer> srv;
};

}  // namespace

TEST_F(LoginsHttpTest, FailuresLockAndTheAdminSeesAndClears) {
  const std::string who = R"({"user_id":"alice","ip":"203.0.113.9"})";
  auto ok = post("check", who);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body, R"({"allowed":true})");
  auto f1 = post("failure", who);
  ASSERT_EQ(f1.status, 200) << f1.body;
  EXPECT_EQ(f1.body, R"({"failures":1,"locked":false,"retry_after":0})");
  auto f2 = json_of(post("failure", who)).as_object();
  EXPECT_TRUE(f2.at("locked").as_bool());
  EXPECT_EQ(f2.at("retry_after").as_int64(), 60);
  auto locked = post("check", who);
  EXPECT_EQ(locked.status, 429);
  EXPECT_EQ(error_code(locked), "account_locked");
  EXPECT_EQ(locked.header("retry-after"), "60");
  auto lj = json_of(locked).as_object();
  EXPECT_FALSE(lj.at("allowed").as_bool());
  EXPECT_GT(lj.at("locked_until").as_int64(), 1'700'000'000);
  auto st = srv->get("/v1/users/alice/lockout");
  ASSERT_EQ(st.status, 200) << st.body;
  auto sj = json_of(st).as_object();
  EXPECT_TRUE(sj.at("locked").as_bool());
  EXPECT_EQ(sj.at("lockouts").as_int64(), 1);
  EXPECT_EQ(srv->del("/v1/users/alice/lockout").status, 204);
  EXPECT_EQ(post("check", who).status, 200);
  EXPECT_FALSE(json_of(srv->get("/v1/users/alice/lockout")).at("locked").as_bool());
  // Success returns a device token; Redis holds no account name or IP in clear.
  auto s = post("success", who);
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(json_of(s).at("device_token").as_string().size(), 47u);
  auto dump = rs.dump_all(true);
  EXPECT_EQ(dump.find("alice"), std::string::npos);
  EXPECT_EQ(dump.find("203.0.113.9"), std::string::npos);
}

TEST_F(LoginsHttpTest, BadInputIsRejectedAndChangesNothing) {
  const std::string before = rs.dump_all();
  for (const char* what : {"check", "failure", "success"}) {
    for (const std::string body :
         {R"({)", R"({"ip":"1.2.3.4"})", R"({"user_id":"a"})", R"({"user_id":"","ip":"1.2.3.4"})",
          R"({"user_id":7,"ip":"1.2.3.4"})", R"({"user_id":"a","ip":""})", R"({"user_id":"a","ip":4})",
          R"({"user_id":"a","ip":"1.2.3.4","device_token":5})", R"({"user_id":"a","ip":"1.2.3.4","extra":1})"}) {
      auto r = post(what, body);
      EXPECT_EQ(r.status, 400) << what << " " << body << " -> " << r.body;
      EXPECT_EQ(error_code(r), "invalid_request");
    }
    EXPECT_EQ(srv->post(std::string("/v1/logins/") + what, "{}", {{"Authorization", ""}}).status, 401);
  }
  EXPECT_EQ(srv->get("/v1/users/%ZZ/lockout").status, 400);
  EXPECT_EQ(rs.dump_all(), before);
}

TEST_F(LoginsHttpTest, RedisDownFailsClosed) {
  rs.kill();
  for (const char* what : {"check", "failure", "success"}) {
    auto r = post(what, R"({"user_id":"a","ip":"1.2.3.4"})");
    EXPECT_EQ(r.status, 503) << what << " " << r.body;
    EXPECT_FALSE(r.header("retry-after").empty());
    EXPECT_EQ(r.body.find("\"allowed\":true"), std::string::npos);
  }
  EXPECT_EQ(srv->get("/v1/users/a/lockout").status, 503);
}

// SECURITY F14: parallel failures are counted exactly and the lock triggers at the threshold.
TEST_F(LoginsHttpTest, ParallelFailuresAreCountedExactly) {
  srv = std::make_unique<TestServer>(rs, [](Config& c) {
    c.login_max_failures = 10;
    c.login_ip_max_failures = 1000;
  });
  std::vector<std::future<HttpResult>> fs;
  for (int i = 0; i < 30; ++i)
    fs.push_back(
        std::async(std::launch::async, [this] { return post("failure", R"({"user_id":"zed","ip":"10.0.0.1"})"); }));
  std::multiset<std::int64_t> counted;
  int locked = 0;
  for (auto& f : fs) {
    auto r = f.get();
    ASSERT_EQ(r.status, 200) << r.body;
    auto o = json_of(r).as_object();
    if (o.at("locked").as_bool()) ++locked;
    if (o.at("failures").as_int64() > 0) counted.insert(o.at("failures").as_int64());
  }
  std::multiset<std::int64_t> expected;
  for (int i = 1; i <= 10; ++i) expected.insert(i);
  EXPECT_EQ(counted, expected) << "failures 1..10 each once; the other 20 met the lock";
  EXPECT_EQ(locked, 21) << "the 10th locked, and 20 arrived while locked";
  EXPECT_EQ(post("check", R"({"user_id":"zed","ip":"10.0.0.1"})").status, 429);
}

// Hardening 1 over HTTP: 100 real clients in parallel, each check -> failure when allowed,
// against one account: at most login_max_failures of them reach the password check, and the
// account ends locked.
TEST_F(LoginsHttpTest, ParallelChecksCannotOutrunTheLock) {
  srv = std::make_unique<TestServer>(rs, [](Config& c) { c.login_max_failures = 5; });
  std::vector<std::future<int>> fs;
  for (int i = 0; i < 100; ++i)
    fs.push_back(std::async(std::launch::async, [this, i] {
      std::string who = R"({"user_id":"victim","ip":"198.51.100.)" + std::to_string(i) + R"("})";
      auto c = post("check", who);
      if (c.status != 200) return c.status == 429 ? 0 : -1000;
      auto f = post("failure", who);
      return f.status == 200 ? 1 : -1000;
    }));
  int verified = 0;
  for (auto& f : fs) verified += f.get();
  EXPECT_EQ(verified, 5) << "reservations: failures plus attempts in flight never exceed the budget";
  auto st = json_of(srv->get("/v1/users/victim/lockout")).as_object();
  EXPECT_TRUE(st.at("locked").as_bool());
  EXPECT_EQ(st.at("lockouts").as_int64(), 1);
  auto locked = post("check", R"({"user_id":"victim","ip":"192.0.2.1"})");
  EXPECT_EQ(locked.status, 429);
  EXPECT_EQ(error_code(locked), "account_locked");
}

// Hardening 2: one account and one client address, whatever their spelling.
TEST_F(LoginsHttpTest, AccountAndAddressVariantsShareOneBudget) {
  srv = std::make_unique<TestServer>(rs, [](Config& c) {
    c.login_max_failures = 3;
    c.login_ip_max_failures = 3;
  });
  // Three spellings of bob from three addresses: one account, locked.
  int n = 0;
  for (const char* name : {"Bob@x", "BOB@X", "bob@x "}) {
    auto r =
        post("failure", std::string(R"({"user_id":")") + name + R"(","ip":"192.0.2.)" + std::to_string(++n) + R"("})");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  auto locked = post("check", R"({"user_id":"bob@x","ip":"192.0.2.99"})");
  EXPECT_EQ(locked.status, 429) << "Bob@x, BOB@X and bob@x are one account";
  EXPECT_EQ(error_code(locked), "account_locked");
  EXPECT_EQ(json_of(srv->get("/v1/users/%EF%BD%82ob@X/lockout")).at("locked"), true) << "fullwidth b, too";
  // Three spellings of one IPv4 client, and three addresses of one IPv6 /64: each one block.
  for (const char* ip : {"203.0.113.9", "::ffff:203.0.113.9", "::FFFF:cb00:7109"})
    ASSERT_EQ(post("failure", std::string(R"({"user_id":"u-)") + ip + R"(","ip":")" + ip + R"("})").status, 200);
  auto v4 = post("check", R"({"user_id":"fresh","ip":"::ffff:203.0.113.9"})");
  EXPECT_EQ(v4.status, 429);
  EXPECT_EQ(error_code(v4), "rate_limited");
  for (const char* ip : {"2001:db8::1", "2001:db8::2", "2001:DB8:0:0:ffff::3"})
    ASSERT_EQ(post("failure", std::string(R"({"user_id":"v-)") + ip + R"(","ip":")" + ip + R"("})").status, 200);
  EXPECT_EQ(post("check", R"({"user_id":"fresh","ip":"2001:db8::abcd"})").status, 429) << "the same /64";
  EXPECT_EQ(post("check", R"({"user_id":"fresh","ip":"2001:db8:0:1::1"})").status, 200) << "the next /64";
}

TEST_F(LoginsHttpTest, NonAddressesAndNonTextNamesAreRefused) {
  const std::string before = rs.dump_all();
  for (const char* what : {"check", "failure", "success"}) {
    for (const std::string body : {R"({"user_id":"a","ip":"alice"})", R"({"user_id":"a","ip":"10.0.0.1 "})",
                                   R"({"user_id":"a","ip":"10.0.0.256"})", R"({"user_id":"a","ip":"[::1]"})",
                                   R"({"user_id":"a","ip":"1.2.3.4/8"})", R"({"user_id":"   ","ip":"1.2.3.4"})"}) {
      auto r = post(what, body);
      EXPECT_EQ(r.status, 400) << what << " " << body << " -> " << r.body;
      EXPECT_EQ(error_code(r), "invalid_request");
    }
  }
  // Hardening 13: a path id that is not UTF-8 is refused, never echoed.
  auto r = srv->get("/v1/users/%FF%FE/lockout");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NO_THROW(json_of(r));
  EXPECT_EQ(rs.dump_all(), before);
}

// Hardening 15: Redis holds keyed digests, not SHA-256 of the address or the name.
TEST_F(LoginsHttpTest, IdentifierDigestsAreKeyed) {
  ASSERT_EQ(post("failure", R"({"user_id":"carol","ip":"198.51.100.7"})").status, 200);
  auto keys = rs.command({"KEYS", "lk:l*"});
  EXPECT_EQ(keys.find(crypto::sha256_base64url("198.51.100.7")), std::string::npos) << keys;
  EXPECT_EQ(keys.find(crypto::sha256_base64url("198.51.100.7").substr(0, 22)), std::string::npos) << keys;
  EXPECT_EQ(keys.find(user_hash("carol")), std::string::npos) << keys;
  EXPECT_NE(keys.find("lk:lp:"), std::string::npos) << keys;
}
