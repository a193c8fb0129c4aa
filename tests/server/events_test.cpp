// Security events over real HTTP against a real Redis: each cause produces its event with the
// request's fields and no secret; filters; bad queries refused; nothing in clear in Redis.
#include "latchkey/secrets.hpp"

#include "server/router.hpp"
#include "server/routes.hpp"
#include "support/test_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
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
  json::array events(const std::string& query, std::size_t want) { return events_of(*srv, query, want); }
  RedisServer rs;
  std::unique_ptr<TestServer> srv;
};

std::string S(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : json::serialize(v); }

}  // namespace

TEST_F(EventsTest, SessionsLoginsAndAdminFailuresBecomeEvents) {
  auto c = srv->post("/v1/sessions", R"({"user_id":"alice"})");
  ASSERT_EQ(c.status, 201) << c.body;
  std::string token(json_of(c).at("token").as_string());
  std::string sid(json_of(c).at("session_id").as_string());
  // Each step waits until its events are recorded: requests land on either shard, and each
  // shard writes its events without anyone waiting, so two steps' events may otherwise be
  // recorded in the other order (the tail below reads in recorded order; the listing sorts by
  // when they happened).
  ASSERT_EQ(events("?user_id=alice", 1).size(), 1u);
  const std::string who = R"({"user_id":"alice","ip":"203.0.113.9"})";
  ASSERT_EQ(srv->post("/v1/logins/failure", who).status, 200);
  ASSERT_EQ(events("?user_id=alice", 2).size(), 2u);
  ASSERT_EQ(srv->post("/v1/logins/failure", who).status, 200);
  ASSERT_EQ(events("?user_id=alice", 4).size(), 4u);
  ASSERT_EQ(srv->del("/v1/users/alice/lockout").status, 204);
  ASSERT_EQ(events("?user_id=alice", 5).size(), 5u);
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

TEST_F(EventsTest, SessionTokenAndAddressCausesBecomeTheirEvents) {
  srv.reset();
  srv = std::make_unique<TestServer>(rs, [](Config& c) {
    c.session_limit = 2;
    c.login_ip_max_failures = 2;
    c.token_refresh_grace = std::chrono::seconds(0);
  });
  auto open = [&](const std::string& user) {
    auto r = srv->post("/v1/sessions", R"({"user_id":")" + user + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    return json_of(r).as_object();
  };
  auto s1 = open("erin"), s2 = open("erin"), s3 = open("erin");  // the third evicts the first
  auto evicted = event_of(*srv, "session_evicted", "&user_id=erin");
  EXPECT_EQ(S(evicted.at("session_id")), S(s1.at("session_id")));
  auto rot =
      srv->post("/v1/sessions/current/rotate", "{}", {{"X-Session-Token", std::string(s2.at("token").as_string())}});
  ASSERT_EQ(rot.status, 200) << rot.body;
  auto rotated = event_of(*srv, "session_rotated", "&user_id=erin");
  EXPECT_EQ(S(rotated.at("user_id")), "erin");
  EXPECT_FALSE(rotated.at("request_id").as_string().empty());
  ASSERT_EQ(srv->del("/v1/sessions/current", {{"X-Session-Token", std::string(s3.at("token").as_string())}}).status,
            204);
  auto destroyed = event_of(*srv, "session_destroyed");  // by its token: the user is not known here
  EXPECT_EQ(S(destroyed.at("session_id")), S(s3.at("session_id")));

  // Tokens: a reused refresh token revokes its family; revocations are recorded.
  auto issued = json_of(srv->post("/v1/tokens", R"({"user_id":"frank"})")).as_object();
  std::string rt0(issued.at("refresh_token").as_string()), at0(issued.at("access_token").as_string());
  ASSERT_EQ(srv->post("/v1/tokens/refresh", R"({"refresh_token":")" + rt0 + R"("})").status, 200);
  ASSERT_EQ(srv->post("/v1/tokens/refresh", R"({"refresh_token":")" + rt0 + R"("})").status, 401);
  auto reuse = event_of(*srv, "refresh_reuse", "&user_id=frank");
  EXPECT_EQ(S(reuse.at("outcome")), "family_revoked");
  EXPECT_FALSE(reuse.at("family").as_string().empty());
  auto second = json_of(srv->post("/v1/tokens", R"({"user_id":"frank"})")).as_object();
  ASSERT_EQ(
      srv->post("/v1/tokens/revoke", R"({"token":")" + std::string(second.at("access_token").as_string()) + R"("})")
          .status,
      200);
  EXPECT_EQ(S(event_of(*srv, "token_revoked").at("outcome")), "revoked");
  ASSERT_EQ(srv->del("/v1/users/frank/tokens").status, 200);
  auto all_revoked = event_of(*srv, "user_tokens_revoked", "&user_id=frank");
  EXPECT_EQ(S(all_revoked.at("count")), "1");

  // An address that fails for two accounts is blocked.
  ASSERT_EQ(srv->post("/v1/logins/failure", R"({"user_id":"g1","ip":"192.0.2.44"})").status, 200);
  ASSERT_EQ(srv->post("/v1/logins/failure", R"({"user_id":"g2","ip":"192.0.2.44"})").status, 200);
  auto blocked = event_of(*srv, "ip_blocked", "&ip=192.0.2.44");
  EXPECT_EQ(S(blocked.at("ip")), "192.0.2.44");
  EXPECT_TRUE(blocked.contains("locked_until"));
  EXPECT_FALSE(blocked.contains("user_id"));

  // No token of any kind is held in an event, in clear or sealed away from the answer.
  auto everything = json::serialize(events("?limit=1000", 10));
  for (const auto& t : {s1.at("token"), s2.at("token"), s3.at("token"), issued.at("access_token"),
                        issued.at("refresh_token"), second.at("access_token")})
    EXPECT_EQ(everything.find(std::string(t.as_string())), std::string::npos);
  auto dump = rs.dump_all(true);
  EXPECT_EQ(dump.find("frank"), std::string::npos);
  EXPECT_EQ(dump.find("192.0.2.44"), std::string::npos);
}

TEST_F(EventsTest, ReadOnlyKeysReadAndAreRefusedEveryWrite) {
  const std::string ro = "r0-read-only-key-9f8e7d6c5b4a39281706f5e4";
  srv.reset();
  srv = std::make_unique<TestServer>(rs, [&](Config& c) { c.admin_read_only_keys = {ro}; });
  const std::map<std::string, std::string> as_ro{{"Authorization", "Bearer " + ro}};
  ASSERT_EQ(srv->post("/v1/sessions", R"({"user_id":"hana"})").status, 201);
  EXPECT_EQ(srv->get("/v1/users/hana/sessions", as_ro).status, 200);
  EXPECT_EQ(srv->get("/v1/events", as_ro).status, 200);
  EXPECT_EQ(srv->get("/v1/users/hana/lockout", as_ro).status, 200);
  EXPECT_EQ(srv->get("/v1/server", as_ro).status, 200);
  const std::string before = rs.dump_all();
  // Every admin route of the table that is not admin_read, with a body that would be valid.
  std::size_t writes = 0;
  const server::Router table = server::make_routes();
  for (const auto& route : table.routes()) {
    if (route.access != server::Access::admin) continue;
    std::string path = route.pattern;
    for (const auto& [param, value] :
         std::vector<std::pair<std::string, std::string>>{{"{user_id}", "hana"},
                                                          {"{client_id}", std::string(22, 'A')},
                                                          {"{family_id}", std::string(22, 'A')},
                                                          {"{session_id}", std::string(22, 'A')}})
      if (auto at = path.find(param); at != std::string::npos) path.replace(at, param.size(), value);
    ASSERT_EQ(path.find('{'), std::string::npos) << route.pattern;
    const std::string body = R"({"user_id":"hana","ip":"192.0.2.1","key":"k","limit":1,"window":1})";
    HttpResult r = route.method == "POST"     ? srv->post(path, body, as_ro)
                   : route.method == "PATCH"  ? srv->patch(path, body, as_ro)
                   : route.method == "DELETE" ? srv->del(path, as_ro)
                   : route.method == "GET"    ? srv->get(path, as_ro)  // validation slides the idle deadline
                                              : HttpResult{};
    ASSERT_NE(r.status, 0) << "a write route of method " << route.method << " this test cannot send";
    EXPECT_EQ(r.status, 403) << route.method << " " << path << " -> " << r.body;
    EXPECT_EQ(error_code(r), "forbidden") << path;
    ++writes;
  }
  EXPECT_GE(writes, 14u);
  EXPECT_EQ(rs.dump_all(), before) << "a read-only key changed nothing";
  auto refused = events("?type=admin_auth_failure", writes);
  ASSERT_EQ(refused.size(), writes);
  EXPECT_EQ(S(refused[0].at("outcome")), "read_only");
}

TEST_F(EventsTest, KeysAddedAndRetiredOnReloadAreEvents) {
  const std::string dir = ::testing::TempDir() + "events-keys-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  ASSERT_EQ(init_secrets(dir), std::nullopt);
  auto rings = load_secrets(dir);
  ASSERT_TRUE(std::holds_alternative<Secrets>(rings));
  srv.reset();
  srv = std::make_unique<TestServer>(
      rs, [&](Config& c) { c.secrets_dir = dir; }, std::nullopt, std::get<Secrets>(std::move(rings)));
  std::string kid;
  ASSERT_EQ(add_encryption_key(dir, kid), std::nullopt);
  ASSERT_EQ(srv->server().reload(nullptr), std::nullopt);
  auto added = event_of(*srv, "key_added");
  EXPECT_EQ(S(added.at("kid")), kid);
  EXPECT_EQ(S(added.at("key_kind")), "encryption");
  // The old key leaves the ring (its file keeps only the new one).
  std::ifstream in(dir + "/encryption.json");
  auto ring = json::parse(std::string(std::istreambuf_iterator<char>(in), {})).as_object();
  auto& keys = ring.at("keys").as_array();
  std::string old(keys.front().at("kid").as_string());
  keys.erase(keys.begin());
  std::ofstream(dir + "/encryption.json", std::ios::trunc) << json::serialize(ring);
  ASSERT_EQ(srv->server().reload(nullptr), std::nullopt);
  auto retired = event_of(*srv, "key_retired");
  EXPECT_EQ(S(retired.at("kid")), old);
  EXPECT_EQ(S(retired.at("key_kind")), "encryption");
  std::filesystem::remove_all(dir);
}

TEST_F(EventsTest, TheSummaryShowsWhoIsLockedFromWhereAndHowFast) {
  const std::string who = R"({"user_id":"alice","ip":"203.0.113.9"})";
  ASSERT_EQ(srv->post("/v1/logins/failure", who).status, 200);
  ASSERT_EQ(srv->post("/v1/logins/failure", who).status, 200);  // locks alice (max 2)
  ASSERT_EQ(srv->post("/v1/logins/failure", R"({"user_id":"bob","ip":"203.0.113.9"})").status, 200);
  events("?type=login_failure", 3);
  auto r = srv->get("/v1/events/summary");
  ASSERT_EQ(r.status, 200) << r.body;
  auto s = json_of(r).as_object();
  const auto& locked = s.at("locked_accounts").as_array();
  ASSERT_EQ(locked.size(), 1u) << r.body;
  EXPECT_EQ(S(locked[0].at("user_id")), "alice");
  EXPECT_GT(locked[0].at("seconds_left").as_int64(), 0);
  const auto& top = s.at("top_accounts").as_array();
  ASSERT_EQ(top.size(), 2u) << r.body;
  EXPECT_EQ(S(top[0].at("user_id")), "alice");
  EXPECT_EQ(top[0].at("failures").as_int64(), 2);
  ASSERT_EQ(s.at("top_ips").as_array().size(), 1u);
  EXPECT_EQ(S(s.at("top_ips").as_array()[0].at("ip")), "203.0.113.9");
  EXPECT_EQ(s.at("top_ips").as_array()[0].at("failures").as_int64(), 3);
  const auto& minutes = s.at("failures_per_minute").as_array();
  ASSERT_EQ(minutes.size(), 60u);
  std::int64_t sum = 0;
  for (const auto& m : minutes) sum += m.as_int64();
  EXPECT_EQ(sum, 3);
  EXPECT_FALSE(s.at("truncated").as_bool());
  EXPECT_TRUE(s.at("locked_ips").as_array().empty()) << r.body;
  // Unlocked: no longer listed, though its failures still count in the hour.
  ASSERT_EQ(srv->del("/v1/users/alice/lockout").status, 204);
  auto after = json_of(srv->get("/v1/events/summary")).as_object();
  EXPECT_TRUE(after.at("locked_accounts").as_array().empty()) << json::serialize(after);
  EXPECT_EQ(after.at("top_accounts").as_array().size(), 2u);
}

TEST(EventsSummaryTest, AnIpOverItsLimitIsListedWithTimeLeft) {
  RedisServer rs;
  TestServer srv(rs, [](Config& c) { c.login_ip_max_failures = 3; });
  for (const char* u : {"u1", "u2", "u3"}) {
    ASSERT_EQ(srv.post("/v1/logins/failure", std::string(R"({"ip":"198.51.100.7","user_id":")") + u + "\"}").status,
              200);
  }
  events_of(srv, "?type=ip_blocked", 1);
  auto s = json_of(srv.get("/v1/events/summary")).as_object();
  const auto& ips = s.at("locked_ips").as_array();
  ASSERT_EQ(ips.size(), 1u) << json::serialize(s);
  EXPECT_EQ(ips[0].at("ip").as_string(), "198.51.100.7");
  EXPECT_GT(ips[0].at("seconds_left").as_int64(), 0);
  EXPECT_TRUE(s.at("locked_accounts").as_array().empty());
}

// Two shards' events may reach Redis in the other order than they happened (each shard writes
// its own after its answers). The newest-first listing orders by when they happened; shown by
// recording a user's events again in reverse order.
TEST_F(EventsTest, NewestFirstIsByWhenEventsHappenedNotWhenTheyWereRecorded) {
  ASSERT_EQ(srv->post("/v1/sessions", R"({"user_id":"zed"})").status, 201);
  ASSERT_EQ(srv->post("/v1/logins/failure", R"({"user_id":"zed","ip":"192.0.2.5"})").status, 200);
  ASSERT_EQ(srv->post("/v1/logins/failure", R"({"user_id":"zed","ip":"192.0.2.5"})").status, 200);  // locks
  ASSERT_EQ(srv->del("/v1/users/zed/lockout").status, 204);
  auto before = events("?user_id=zed", 5);
  ASSERT_EQ(before.size(), 5u);
  std::vector<std::string> want;
  for (const auto& e : before) want.emplace_back(e.at("type").as_string());
  EXPECT_EQ(want.front(), "unlock");
  EXPECT_EQ(want.back(), "session_created");
  // Every entry of zed's stream recorded again, last first: the stream order is now reversed.
  std::string streams = rs.command({"KEYS", "lk:ev:*"});
  std::size_t reordered = 0;
  for (std::size_t at = 0; at < streams.size();) {
    auto end = streams.find('\n', at);
    std::string key = streams.substr(at, end == std::string::npos ? std::string::npos : end - at);
    at = end == std::string::npos ? streams.size() : end + 1;
    if (key.empty()) continue;
    auto n = rs.command({"EVAL",
                         "local e = redis.call('XRANGE', KEYS[1], '-', '+') redis.call('DEL', KEYS[1]) "
                         "for i = #e, 1, -1 do redis.call('XADD', KEYS[1], '*', unpack(e[i][2])) end return #e",
                         "1", key});
    reordered += std::stoul(n);
  }
  ASSERT_GE(reordered, 5u);
  auto after = json_of(srv->get("/v1/events?user_id=zed")).at("events").as_array();
  std::vector<std::string> got;
  for (const auto& e : after) got.emplace_back(e.at("type").as_string());
  EXPECT_EQ(got, want);
}
