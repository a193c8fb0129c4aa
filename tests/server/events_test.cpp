// Security events over real HTTP against a real Redis: each cause produces its event with the
// request's fields and no secret; filters; bad queries refused; nothing in clear in Redis.
#include "support/test_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

using namespace latchkey;
using namespace latchkey::test;
namespace json = boost::json;

namespace {

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    srv = std::make_unique<TestServer>(rs, [](Config& c) { c.login_max_failures = 2; });
  }
  // The events answered for `query`, waiting (bounded) until `want` of them are there: the
  // writer runs after the answer of the request that caused them.
  json::array events(const std::string& query, std::size_t want) {
    json::array out;
    for (int i = 0; i < 100; ++i) {
      auto r = srv->get("/v1/events" + query);
      EXPECT_EQ(r.status, 200) << r.body;
      out = json_of(r).at("events").as_array();
      if (out.size() >= want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return out;
  }
  RedisServer rs;
  std::unique_ptr<TestServer> srv;
};

}  // namespace

TEST_F(EventsTest, SessionsLoginsAndAdminFailuresBecomeEvents) {
  auto c = srv->post("/v1/sessions", R"({"user_id":"alice"})");
  ASSERT_EQ(c.status, 201) << c.body;
  std::string token(json_of(c).at("token").as_string());
  std::string sid(json_of(c).at("session_id").as_string());
  const std::string who = R"({"user_id":"alice","ip":"203.0.113.9"})";
  ASSERT_EQ(srv->post("/v1/logins/failure", who).status, 200);
  ASSERT_EQ(srv->post("/v1/logins/failure", who).status, 200);
  ASSERT_EQ(srv->del("/v1/users/alice/lockout").status, 204);
  ASSERT_EQ(srv->del("/v1/users/alice/sessions").status, 200);
  ASSERT_EQ(srv->get("/v1/events", {{"Authorization", "Bearer wrong-key-0123456789abcdef0123456789"}}).status, 401);

  auto all = events("?user_id=alice", 6);
  ASSERT_EQ(all.size(), 6u);
  // Newest first.
  std::vector<std::string> types;
  for (const auto& e : all) types.emplace_back(e.at("type").as_string());
  EXPECT_EQ(types, (std::vector<std::string>{"logout_everywhere", "unlock", "lockout", "login_failure", "login_failure",
                                             "session_created"}));
  const auto& created = all.back().as_object();
  EXPECT_EQ(created.at("user_id").as_string(), "alice");
  EXPECT_EQ(created.at("session_id").as_string(), sid);
  EXPECT_FALSE(created.at("request_id").as_string().empty());
  EXPECT_FALSE(created.at("time").as_string().empty());
  const auto& lock = all[2].as_object();
  EXPECT_EQ(lock.at("ip").as_string(), "203.0.113.9");
  EXPECT_EQ(lock.at("outcome").as_string(), "locked");
  EXPECT_TRUE(lock.contains("locked_until"));
  auto admin = events("?type=admin_auth_failure", 1);
  ASSERT_EQ(admin.size(), 1u);
  EXPECT_EQ(admin[0].at("route").as_string(), "/v1/events");
  EXPECT_EQ(events("?ip=203.0.113.9", 3).size(), 3u);
  EXPECT_EQ(events("?type=lockout&user_id=alice", 1).size(), 1u);
  EXPECT_EQ(events("?user_id=bob", 0).size(), 0u);
  // Tailing: after the oldest, the rest oldest first.
  std::string oldest(all.back().at("id").as_string());
  auto tail = json_of(srv->get("/v1/events?user_id=alice&after=" + oldest)).at("events").as_array();
  ASSERT_EQ(tail.size(), 5u);
  EXPECT_EQ(tail[0].at("type").as_string(), "login_failure");
  // Redis holds neither the token, the account name nor the address in clear.
  auto dump = rs.dump_all(true);
  EXPECT_EQ(dump.find(token), std::string::npos);
  EXPECT_EQ(dump.find("alice"), std::string::npos);
  EXPECT_EQ(dump.find("203.0.113.9"), std::string::npos);
}

TEST_F(EventsTest, BadQueriesAreRefused) {
  for (const char* q : {"?limit=0", "?limit=1001", "?limit=x", "?after=1", "?after=1-2-9", "?after=a-b-0",
                        "?type=nonsense", "?ip=300.1.1.1", "?user_id=%00"}) {
    auto r = srv->get(std::string("/v1/events") + q);
    EXPECT_EQ(r.status, 400) << q << " -> " << r.body;
    EXPECT_EQ(error_code(r), "invalid_request") << q;
  }
}

TEST_F(EventsTest, TheStreamsStayWithinTheirCap) {
  srv.reset();
  srv = std::make_unique<TestServer>(rs, [](Config& c) {
    c.events_max_length = 400;
    c.login_max_failures = 1000000;
    c.login_ip_max_failures = 1000000;
  });
  for (int i = 0; i < 1500; ++i)
    ASSERT_EQ(srv->post("/v1/logins/failure", R"({"user_id":"u)" + std::to_string(i % 50) + R"(","ip":"198.51.100.7"})")
                  .status,
              200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Each of the 4 streams trims to 100 (+ at most one radix node of 100 with MAXLEN ~).
  auto n = events("?limit=1000", 0).size();
  EXPECT_LE(n, 4u * 200u);
  EXPECT_GE(n, 400u);
}
