// Sessions over real HTTP against a real Redis: every endpoint, its errors and bad input
// (each leaving Redis unchanged), expiry, cookie mode, limits, concurrency with parallel
// clients, secrets at rest, key rotation and Redis outages.
#include "latchkey/identity.hpp"
#include "latchkey/sessions.hpp"
#include "latchkey/key_schema.hpp"
#include "latchkey/crypto/primitives.hpp"

#include "support/test_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

using namespace latchkey;
using namespace latchkey::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct Session {
  std::string token;
  std::string id;
};

class SessionsTest : public ::testing::Test {
 protected:
  void start(const std::function<void(Config&)>& tweak = {}) { srv = std::make_unique<TestServer>(rs, tweak); }
  void SetUp() override { start(); }

  Session create(const std::string& user, const std::string& extra = "") {
    auto r = srv->post("/v1/sessions", "{\"user_id\":\"" + user + "\"" + extra + "}");
    EXPECT_EQ(r.status, 201) << r.body;
    auto v = json_of(r);
    if (!v.is_object()) return {};
    return {std::string(v.at("token").as_string()), std::string(v.at("session_id").as_string())};
  }
  HttpResult validate(const std::string& token, const std::string& extra = "") {
    return srv->post("/v1/sessions/validate", "{\"token\":\"" + token + "\"" + extra + "}");
  }
  HttpResult current(const std::string& token) {
    return srv->get("/v1/sessions/current", {{"X-Session-Token", token}});
  }
  HttpResult update(const std::string& token, const std::string& body) {
    return srv->patch("/v1/sessions/current", body, {{"X-Session-Token", token}});
  }
  // Redis contents (keys and values; TTLs aside), for "nothing changed" checks.
  std::string snapshot() { return rs.dump_all(); }
  std::string session_key(const std::string& token) {
    auto t = sessions::parse_token(token);
    return key_schema::UserSlot("lk:", t->slot).session(t->session_id);
  }
  std::string index_key(const std::string& user) {
    return key_schema::UserSlot("lk:", user_slot(user)).session_index(user_hash(user));
  }

  RedisServer rs;
  std::unique_ptr<TestServer> srv;
};

}  // namespace

TEST_F(SessionsTest, CreateThenValidateReturnsTheSessionView) {
  auto r = srv->post(
      "/v1/sessions",
      R"({"user_id":"alice","data":{"role":"admin","n":[1,2]},"device":{"ua":"Firefox"},"ip":"203.0.113.9"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto c = json_of(r);
  std::string token(c.at("token").as_string());
  EXPECT_EQ(token.size(), 52u) << "a token that carries its idle timeout";
  EXPECT_EQ(c.at("session_id").as_string().size(), 43u);
  EXPECT_EQ(c.at("user_id").as_string(), "alice");
  EXPECT_EQ(c.at("version").as_int64(), 1);
  EXPECT_TRUE(c.at("evicted").as_array().empty());
  auto created = c.at("created_at").as_int64();
  EXPECT_EQ(c.at("expires_at").as_int64(), created + 43200);
  EXPECT_EQ(c.at("idle_expires_at").as_int64(), created + 1800);
  EXPECT_TRUE(r.header("set-cookie").empty()) << "no cookie unless asked";
  EXPECT_EQ(r.header("cache-control"), "no-store");

  auto v = validate(token);
  ASSERT_EQ(v.status, 200) << v.body;
  auto view = json_of(v);
  EXPECT_EQ(view.at("session_id"), c.at("session_id"));
  EXPECT_EQ(view.at("user_id").as_string(), "alice");
  EXPECT_EQ(view.at("data").at("role").as_string(), "admin");
  EXPECT_EQ(view.at("data").at("n").as_array().size(), 2u);
  EXPECT_EQ(view.at("device").at("ua").as_string(), "Firefox");
  EXPECT_EQ(view.at("ip").as_string(), "203.0.113.9");
  EXPECT_EQ(view.at("version").as_int64(), 1);
  for (auto f : {"created_at", "last_seen_at", "idle_expires_at", "expires_at"})
    EXPECT_TRUE(view.at(f).is_int64()) << f;
  EXPECT_EQ(view.as_object().size(), 10u);
  EXPECT_EQ(v.body.find(token), std::string::npos) << "the view never carries the token";

  auto cur = current(token);
  EXPECT_EQ(cur.status, 200);
  EXPECT_EQ(json_of(cur).at("session_id"), c.at("session_id"));
}

TEST_F(SessionsTest, DefaultsWhenOptionalFieldsAreAbsent) {
  auto s = create("bob");
  auto view = json_of(validate(s.token));
  EXPECT_TRUE(view.at("data").as_object().empty());
  EXPECT_TRUE(view.at("device").as_object().empty());
  EXPECT_EQ(view.at("ip").as_string(), "");
}

TEST_F(SessionsTest, CookieModeSetsAHardenedCookieThatValidates) {
  auto r = srv->post("/v1/sessions", R"({"user_id":"carol","cookie":true})");
  ASSERT_EQ(r.status, 201);
  std::string token(json_of(r).at("token").as_string());
  std::string cookie = r.header("set-cookie");
  EXPECT_EQ(cookie.rfind("__Host-session=" + token + ";", 0), 0u) << cookie;
  for (auto attr : {"; Path=/", "; HttpOnly", "; Secure", "; SameSite=Lax", "; Max-Age=43200"})
    EXPECT_NE(cookie.find(attr), std::string::npos) << attr << " missing in " << cookie;
  EXPECT_EQ(cookie.find("Domain"), std::string::npos);
  auto v = srv->get("/v1/sessions/current", {{"Cookie", "theme=dark; __Host-session=" + token + "; other=1"}});
  EXPECT_EQ(v.status, 200) << v.body;
  // Rotation through the cookie answers with the new cookie; logout clears it.
  auto rot = http_request(srv->port(), "POST", "/v1/sessions/current/rotate", "",
                          {{"Authorization", "Bearer " + kAdminKey}, {"Cookie", "__Host-session=" + token}});
  ASSERT_EQ(rot.status, 200) << rot.body;
  std::string fresh(json_of(rot).at("token").as_string());
  EXPECT_EQ(rot.header("set-cookie").rfind("__Host-session=" + fresh + ";", 0), 0u);
  auto out = srv->del("/v1/sessions/current", {{"Cookie", "__Host-session=" + fresh}});
  EXPECT_EQ(out.status, 204);
  EXPECT_NE(out.header("set-cookie").find("Max-Age=0"), std::string::npos);
}

TEST_F(SessionsTest, CookieSettingsAreConfigurable) {
  srv.reset();
  start([](Config& c) {
    c.session_cookie_name = "sid";
    c.session_cookie_samesite = "Strict";
    c.session_cookie_secure = false;
  });
  auto r = srv->post("/v1/sessions", R"({"user_id":"dev","cookie":true})");
  std::string cookie = r.header("set-cookie");
  EXPECT_EQ(cookie.rfind("sid=", 0), 0u);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos);
  std::string token(json_of(r).at("token").as_string());
  EXPECT_EQ(srv->get("/v1/sessions/current", {{"Cookie", "sid=" + token}}).status, 200);
}

TEST_F(SessionsTest, CreateRejectsBadInputAndChangesNothing) {
  create("existing");
  const std::string before = snapshot();
  struct Case {
    std::string body;
    int status;
    std::string code;
  };
  std::vector<Case> cases{
      {R"({})", 400, "invalid_request"},
      {R"({"user_id":42})", 400, "invalid_request"},
      {R"({"user_id":""})", 400, "invalid_request"},
      {R"({"user_id":null})", 400, "invalid_request"},
      {"{\"user_id\":\"" + std::string(257, 'u') + "\"}", 400, "invalid_request"},
      {R"({"user_id":"a\u0000b"})", 400, "invalid_request"},
      {R"({"user_id":"a\nb"})", 400, "invalid_request"},
      {R"({"user_id":"u","data":"admin"})", 400, "invalid_request"},
      {R"({"user_id":"u","data":[1]})", 400, "invalid_request"},
      {"{\"user_id\":\"u\",\"data\":{\"x\":\"" + std::string(17000, 'x') + "\"}}", 413, "payload_too_large"},
      {R"({"user_id":"u","device":"phone"})", 400, "invalid_request"},
      {"{\"user_id\":\"u\",\"device\":{\"x\":\"" + std::string(3000, 'x') + "\"}}", 413, "payload_too_large"},
      {R"({"user_id":"u","ip":"999.1.1.1"})", 400, "invalid_request"},
      {R"({"user_id":"u","ip":"not an ip"})", 400, "invalid_request"},
      {R"({"user_id":"u","ip":1234})", 400, "invalid_request"},
      {R"({"user_id":"u","idle_ttl":0})", 400, "invalid_request"},
      {R"({"user_id":"u","idle_ttl":-5})", 400, "invalid_request"},
      {R"({"user_id":"u","idle_ttl":"60"})", 400, "invalid_request"},
      {R"({"user_id":"u","idle_ttl":1.5})", 400, "invalid_request"},
      {R"({"user_id":"u","idle_ttl":86401})", 400, "invalid_request"},
      {R"({"user_id":"u","absolute_ttl":2592001})", 400, "invalid_request"},
      {R"({"user_id":"u","absolute_ttl":18446744073709551615})", 400, "invalid_request"},
      {R"({"user_id":"u","cookie":"yes"})", 400, "invalid_request"},
      {R"({"user_id":"u","idle_tll":60})", 400, "invalid_request"},
      {R"({"user_id":"u")", 400, "invalid_request"},
      {R"(["user_id"])", 400, "invalid_request"},
  };
  for (const auto& c : cases) {
    auto r = srv->post("/v1/sessions", c.body);
    EXPECT_EQ(r.status, c.status) << c.body.substr(0, 80) << " -> " << r.body;
    EXPECT_EQ(error_code(r), c.code) << c.body.substr(0, 80);
    EXPECT_FALSE(json_of(r).at("error_description").as_string().empty());
  }
  EXPECT_EQ(srv->post("/v1/sessions", R"({"user_id":"u"})", {{"Content-Type", "text/plain"}}).status, 415);
  EXPECT_EQ(srv->post("/v1/sessions", R"({"user_id":"u"})", {{"Authorization", ""}}).status, 401);
  EXPECT_EQ(srv->post("/v1/sessions", R"({"user_id":"u"})", {{"Authorization", "Bearer nope"}}).status, 401);
  EXPECT_EQ(
      srv->post("/v1/sessions", "{\"user_id\":\"u\",\"data\":{\"x\":\"" + std::string(70000, 'x') + "\"}}").status,
      413);
  EXPECT_EQ(snapshot(), before) << "a rejected request changed Redis";
}

TEST_F(SessionsTest, MalformedAndUnknownTokensAreInvalidSessionsAndChangeNothing) {
  auto s = create("dave");
  const std::string before = snapshot();
  ASSERT_EQ(s.token.size(), 52u);
  ASSERT_EQ(s.token[0], 'B') << "version 6: 000001|10...";
  std::string other_version = s.token;
  other_version[0] = 'A';       // first byte is the format version: now 2
  std::string raw(39, '\x07');  // version 6, slot 0x0707, idle timeout 0: never issued
  raw[0] = 6;
  raw.replace(3, 4, 4, '\0');
  const std::string no_idle = crypto::base64url_encode(raw);
  std::vector<std::string> bad_tokens{
      "",
      "short",
      s.token + "A",
      s.token.substr(0, 51),
      s.token.substr(0, 47),  // the first format's length, not its version
      std::string(47, '+'),
      std::string(52, '+'),
      s.token.substr(0, 48) + "a/b=",
      s.token.substr(0, 51) + "=",
      s.token.substr(0, 10) + " " + s.token.substr(11),
      other_version,
      no_idle,
      "Af__" + s.token.substr(4),  // slot 0xffff: out of range
      sessions::new_token(0),      // well formed, never issued (SM-3: not adopted)
      sessions::new_token(sessions::parse_token(s.token)->slot),
      sessions::new_token(sessions::parse_token(s.token)->slot, 1800),  // the current format
  };
  for (const auto& t : bad_tokens) {
    auto r = validate(t);
    EXPECT_EQ(r.status, 401) << "'" << t << "' -> " << r.body;
    EXPECT_EQ(error_code(r), "invalid_session");
    EXPECT_EQ(current(t).status, 401);
  }
  EXPECT_EQ(srv->post("/v1/sessions/validate", "{}").status, 400);
  EXPECT_EQ(srv->post("/v1/sessions/validate", R"({"token":42})").status, 400);
  EXPECT_EQ(srv->post("/v1/sessions/validate", R"({"token":null})").status, 400);
  EXPECT_EQ(srv->post("/v1/sessions/validate", "{\"token\":\"" + s.token + "\",\"touch\":\"no\"}").status, 400);
  EXPECT_EQ(srv->post("/v1/sessions/validate", "{\"token\":\"" + s.token + "\",\"extra\":1}").status, 400);
  EXPECT_EQ(srv->get("/v1/sessions/current").status, 401);
  // Tokens are never accepted in the URL.
  EXPECT_EQ(srv->get("/v1/sessions/current?token=" + s.token).status, 400);
  EXPECT_EQ(srv->get("/v1/sessions/current?session_token=" + s.token).status, 400);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(SessionsTest, UpdateWithOptimisticConcurrency) {
  auto s = create("erin", R"(,"data":{"v":0})");
  auto ok = update(s.token, R"({"data":{"v":1},"version":1})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json_of(ok).at("version").as_int64(), 2);
  EXPECT_EQ(json_of(ok).at("data").at("v").as_int64(), 1);
  EXPECT_EQ(json_of(ok).at("device").as_object().size(), 0u);
  auto stale = update(s.token, R"({"data":{"v":9},"version":1})");
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(error_code(stale), "version_conflict");
  EXPECT_EQ(json_of(validate(s.token)).at("data").at("v").as_int64(), 1);

  const std::string before = snapshot();
  EXPECT_EQ(update(s.token, R"({"version":2})").status, 400);
  EXPECT_EQ(update(s.token, R"({"data":{}})").status, 400);
  EXPECT_EQ(update(s.token, R"({"data":[],"version":2})").status, 400);
  EXPECT_EQ(update(s.token, R"({"data":{},"version":"2"})").status, 400);
  EXPECT_EQ(update(s.token, R"({"data":{},"version":0})").status, 400);
  EXPECT_EQ(update(s.token, R"({"data":{},"version":2,"user_id":"mallory"})").status, 400);
  EXPECT_EQ(update(sessions::new_token(1), R"({"data":{},"version":2})").status, 401);
  EXPECT_EQ(srv->patch("/v1/sessions/current", R"({"data":{},"version":2})").status, 401);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(SessionsTest, DestroyedSessionIsNeverResurrectedByALateUpdate) {
  auto s = create("frank");
  EXPECT_EQ(srv->del("/v1/sessions/current", {{"X-Session-Token", s.token}}).status, 204);
  EXPECT_EQ(update(s.token, R"({"data":{"x":1},"version":1})").status, 401);
  EXPECT_EQ(rs.command({"EXISTS", session_key(s.token)}), "0");
  EXPECT_EQ(validate(s.token).status, 401);
}

TEST_F(SessionsTest, DestroyIsIdempotentAndLeavesTheIndex) {
  auto a = create("gina");
  auto b = create("gina");
  EXPECT_EQ(srv->del("/v1/sessions/current", {{"X-Session-Token", a.token}}).status, 204);
  EXPECT_EQ(srv->del("/v1/sessions/current", {{"X-Session-Token", a.token}}).status, 204);
  EXPECT_EQ(srv->del("/v1/sessions/current", {{"X-Session-Token", "garbage"}}).status, 204);
  EXPECT_EQ(srv->del("/v1/sessions/current").status, 401);
  EXPECT_EQ(validate(a.token).status, 401);
  EXPECT_EQ(validate(b.token).status, 200);
  EXPECT_EQ(rs.command({"ZRANGE", index_key("gina"), "0", "-1"}), b.id);
}

TEST_F(SessionsTest, RotateIssuesANewTokenAndRetiresTheOld) {
  auto s = create("hank", R"(,"data":{"role":"user"},"ip":"192.0.2.1")");
  auto r = http_request(srv->port(), "POST", "/v1/sessions/current/rotate", "",
                        {{"Authorization", "Bearer " + kAdminKey}, {"X-Session-Token", s.token}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json_of(r);
  std::string fresh(j.at("token").as_string());
  EXPECT_NE(fresh, s.token);
  EXPECT_NE(j.at("session_id").as_string(), s.id);
  EXPECT_TRUE(r.header("set-cookie").empty());
  EXPECT_EQ(validate(s.token).status, 401) << "the pre-rotation token must stop working (fixation)";
  auto v = validate(fresh);
  ASSERT_EQ(v.status, 200);
  EXPECT_EQ(json_of(v).at("data").at("role").as_string(), "user");
  EXPECT_EQ(json_of(v).at("ip").as_string(), "192.0.2.1");
  auto listed = json_of(srv->get("/v1/users/hank/sessions")).at("sessions").as_array();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].at("session_id"), j.at("session_id"));
  EXPECT_EQ(http_request(srv->port(), "POST", "/v1/sessions/current/rotate", "",
                         {{"Authorization", "Bearer " + kAdminKey}, {"X-Session-Token", s.token}})
                .status,
            401);
}

TEST_F(SessionsTest, RotateOverlapKeepsTheOldTokenBrieflyAsItsSuccessor) {
  srv.reset();
  start([](Config& c) { c.session_rotate_overlap = std::chrono::seconds(2); });
  auto s = create("ivan");
  auto r = http_request(srv->port(), "POST", "/v1/sessions/current/rotate", "",
                        {{"Authorization", "Bearer " + kAdminKey}, {"X-Session-Token", s.token}});
  ASSERT_EQ(r.status, 200);
  std::string fresh_id(json_of(r).at("session_id").as_string());
  auto old = validate(s.token);
  ASSERT_EQ(old.status, 200) << "inside the overlap";
  EXPECT_EQ(json_of(old).at("session_id").as_string(), fresh_id);
  std::this_thread::sleep_for(3100ms);
  EXPECT_EQ(validate(s.token).status, 401) << "after the overlap";
  EXPECT_EQ(validate(std::string(json_of(r).at("token").as_string())).status, 200);
}

// Validation's pipeline (TIME, HMGET, EXPIRE) slides the key before it sees that a rotation
// left it: a rotation between a validation's read and its EXPIRE, or a retired token presented
// inside the overlap. The stored end of the overlap ('fe') decides, never the TTL: the script
// puts the TTL back, and after the overlap the old token neither reads nor ends the session.
TEST_F(SessionsTest, APipelinedSlideNeverExtendsARotationOverlap) {
  srv.reset();
  start([](Config& c) { c.session_rotate_overlap = std::chrono::seconds(2); });
  auto s = create("ivy");
  auto r = http_request(srv->port(), "POST", "/v1/sessions/current/rotate", "",
                        {{"Authorization", "Bearer " + kAdminKey}, {"X-Session-Token", s.token}});
  ASSERT_EQ(r.status, 200);
  const std::string fresh(json_of(r).at("token").as_string());
  const std::string old_key = session_key(s.token);
  ASSERT_EQ(validate(s.token).status, 200) << "inside the overlap";
  EXPECT_LE(std::stoll(rs.command({"TTL", old_key})), 2) << "the slide the pipeline made was put back";
  // What a validation racing the rotation leaves: the retired key slid to the idle timeout.
  ASSERT_EQ(rs.command({"EXPIRE", old_key, "1800"}), "1");
  std::this_thread::sleep_for(2100ms);
  EXPECT_EQ(validate(s.token).status, 401) << "after the overlap, whatever the TTL";
  EXPECT_EQ(rs.command({"EXISTS", old_key}), "0") << "and the key is gone";
  ASSERT_EQ(validate(fresh).status, 200);

  // A retired token past its overlap cannot log the new session out either.
  auto s2 = create("ivy");
  auto r2 = http_request(srv->port(), "POST", "/v1/sessions/current/rotate", "",
                         {{"Authorization", "Bearer " + kAdminKey}, {"X-Session-Token", s2.token}});
  ASSERT_EQ(r2.status, 200);
  const std::string fresh2(json_of(r2).at("token").as_string());
  ASSERT_EQ(rs.command({"EXPIRE", session_key(s2.token), "1800"}), "1");
  std::this_thread::sleep_for(2100ms);
  EXPECT_EQ(srv->del("/v1/sessions/current", {{"X-Session-Token", s2.token}}).status, 204);
  EXPECT_EQ(validate(fresh2).status, 200) << "the successor lives";
}

TEST_F(SessionsTest, ListShowsMetadataOnly) {
  auto a = create("judy", R"(,"data":{"secret":"do-not-list"},"device":{"ua":"Safari"},"ip":"2001:db8::1")");
  create("judy");
  create("someone-else");
  auto r = srv->get("/v1/users/judy/sessions");
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = json_of(r).at("sessions").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(r.body.find("do-not-list"), std::string::npos);
  EXPECT_EQ(r.body.find(a.token), std::string::npos);
  EXPECT_EQ(r.body.find("\"data\""), std::string::npos);
  bool found = false;
  for (const auto& s : list) {
    EXPECT_EQ(s.as_object().size(), 7u);
    if (s.at("session_id").as_string() == a.id) {
      found = true;
      EXPECT_EQ(s.at("device").at("ua").as_string(), "Safari");
      EXPECT_EQ(s.at("ip").as_string(), "2001:db8::1");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(json_of(srv->get("/v1/users/nobody/sessions")).at("sessions").as_array().size(), 0u);
  // User ids with reserved characters are percent-encoded in the path.
  create("kim@example.com");
  EXPECT_EQ(json_of(srv->get("/v1/users/kim%40example.com/sessions")).at("sessions").as_array().size(), 1u);
  EXPECT_EQ(srv->get("/v1/users/bad%zz/sessions").status, 400);
  EXPECT_EQ(srv->get("/v1/users/a%0Ab/sessions").status, 400);
  EXPECT_EQ(srv->get("/v1/users/judy/sessions", {{"Authorization", ""}}).status, 401);
}

TEST_F(SessionsTest, LogoutEverywhereOptionallyKeepingOne) {
  auto keep = create("leo");
  auto a = create("leo");
  auto b = create("leo");
  auto other = create("mia");
  EXPECT_EQ(srv->del("/v1/users/leo/sessions?except=not-a-session-id").status, 400);
  auto r = srv->del("/v1/users/leo/sessions?except=" + keep.id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_of(r).at("revoked").as_int64(), 2);
  EXPECT_EQ(validate(a.token).status, 401);
  EXPECT_EQ(validate(b.token).status, 401);
  EXPECT_EQ(validate(keep.token).status, 200);
  EXPECT_EQ(validate(other.token).status, 200);
  auto all = srv->del("/v1/users/leo/sessions");
  EXPECT_EQ(json_of(all).at("revoked").as_int64(), 1);
  EXPECT_EQ(validate(keep.token).status, 401);
  EXPECT_EQ(json_of(srv->del("/v1/users/leo/sessions")).at("revoked").as_int64(), 0);
}

TEST_F(SessionsTest, DestroyOneByIdOnlyWithinItsUser) {
  auto a = create("nina");
  auto b = create("oscar");
  EXPECT_EQ(srv->del("/v1/users/oscar/sessions/" + a.id).status, 404) << "another user's session";
  EXPECT_EQ(validate(a.token).status, 200);
  EXPECT_EQ(srv->del("/v1/users/nina/sessions/" + a.id).status, 204);
  EXPECT_EQ(validate(a.token).status, 401);
  auto again = srv->del("/v1/users/nina/sessions/" + a.id);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(error_code(again), "not_found");
  EXPECT_EQ(srv->del("/v1/users/nina/sessions/short").status, 404);
  EXPECT_EQ(validate(b.token).status, 200);
}

TEST_F(SessionsTest, LimitEvictsTheOldestByDefault) {
  std::vector<Session> made;
  for (int i = 0; i < 5; ++i) made.push_back(create("paul"));
  auto r = srv->post("/v1/sessions", R"({"user_id":"paul"})");
  ASSERT_EQ(r.status, 201);
  auto evicted = json_of(r).at("evicted").as_array();
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted[0].as_string(), made[0].id);
  EXPECT_EQ(validate(made[0].token).status, 401);
  EXPECT_EQ(validate(made[1].token).status, 200);
  EXPECT_EQ(rs.command({"ZCARD", index_key("paul")}), "5");
}

TEST_F(SessionsTest, LimitCanRejectNewSessions) {
  srv.reset();
  start([](Config& c) {
    c.session_limit = 2;
    c.session_limit_policy = "reject_new";
  });
  auto a = create("quinn");
  create("quinn");
  const std::string before = snapshot();
  auto r = srv->post("/v1/sessions", R"({"user_id":"quinn"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_code(r), "session_limit_reached");
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(srv->del("/v1/sessions/current", {{"X-Session-Token", a.token}}).status, 204);
  EXPECT_EQ(srv->post("/v1/sessions", R"({"user_id":"quinn"})").status, 201);
}

TEST_F(SessionsTest, IdleTimeoutExpiresAndLeavesTheIndex) {
  auto s = create("rita", R"(,"idle_ttl":1,"absolute_ttl":60)");
  EXPECT_EQ(validate(s.token).status, 200);
  std::this_thread::sleep_for(2200ms);
  auto r = validate(s.token);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(error_code(r), "invalid_session");
  EXPECT_EQ(json_of(srv->get("/v1/users/rita/sessions")).at("sessions").as_array().size(), 0u);
  EXPECT_EQ(rs.command({"ZCARD", index_key("rita")}), "0");
}

TEST_F(SessionsTest, SlidingNeverPassesTheAbsoluteDeadline) {
  auto s = create("sam", R"(,"idle_ttl":2,"absolute_ttl":3)");
  std::int64_t expires = 0;
  bool ended = false;
  auto start_time = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start_time < 6s) {
    auto r = validate(s.token);
    if (r.status == 401) {
      ended = true;
      break;
    }
    auto v = json_of(r);
    expires = v.at("expires_at").as_int64();
    EXPECT_LE(v.at("idle_expires_at").as_int64(), expires);
    std::this_thread::sleep_for(400ms);
  }
  EXPECT_TRUE(ended) << "a session kept alive by activity must still end at its absolute deadline";
  EXPECT_LE(std::chrono::steady_clock::now() - start_time, 4500ms);
}

TEST_F(SessionsTest, TouchSlidesTheTtlButRewritesLastSeenOnlyPerInterval) {
  auto s = create("tina", R"(,"idle_ttl":100)");
  std::string key = session_key(s.token);
  std::string ls = rs.command({"HGET", key, "ls"});
  EXPECT_EQ(rs.command({"EXPIRE", key, "50"}), "1");
  ASSERT_EQ(validate(s.token, R"(,"touch":false)").status, 200);
  EXPECT_LE(std::stoi(rs.command({"TTL", key})), 50) << "touch:false must not slide";
  ASSERT_EQ(validate(s.token).status, 200);
  EXPECT_GT(std::stoi(rs.command({"TTL", key})), 90) << "touch slides the idle deadline";
  EXPECT_EQ(rs.command({"HGET", key, "ls"}), ls) << "last_seen_at is throttled";
}

TEST_F(SessionsTest, StoredDeadlineWinsOverAnExtendedTtl) {
  auto s = create("uma", R"(,"idle_ttl":1,"absolute_ttl":2)");
  std::string key = session_key(s.token);
  EXPECT_EQ(rs.command({"PERSIST", key}), "1");  // someone removes the TTL by hand
  std::this_thread::sleep_for(2200ms);
  EXPECT_EQ(validate(s.token).status, 401);
  EXPECT_EQ(rs.command({"EXISTS", key}), "0");
}

TEST_F(SessionsTest, NoTokenOrPlaintextAtRest) {
  std::vector<Session> made;
  for (int i = 0; i < 5; ++i)
    made.push_back(
        create("vera" + std::to_string(i),
               R"(,"data":{"ssn":"PLAINTEXT-MARKER-123"},"device":{"ua":"DEVICE-MARKER"},"ip":"198.51.100.77")"));
  std::string dump = snapshot();
  EXPECT_NE(dump.find(made[0].id), std::string::npos) << "sanity: the dump sees the sessions";
  for (const auto& s : made) EXPECT_EQ(dump.find(s.token), std::string::npos) << "a token is stored in clear";
  EXPECT_EQ(dump.find("PLAINTEXT-MARKER"), std::string::npos);
  EXPECT_EQ(dump.find("DEVICE-MARKER"), std::string::npos);
  EXPECT_EQ(dump.find("198.51.100.77"), std::string::npos);
}

TEST_F(SessionsTest, CiphertextMovedToAnotherSessionDoesNotDecrypt) {
  auto a = create("walt", R"(,"data":{"role":"admin"})");
  auto b = create("walt", R"(,"data":{"role":"guest"})");
  std::string stolen = rs.command({"HGET", session_key(a.token), "d"});
  EXPECT_EQ(rs.command({"HSET", session_key(b.token), "d", stolen}), "0");
  auto r = validate(b.token);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.body.find("admin"), std::string::npos);
}

TEST_F(SessionsTest, KeyRotationLosesNoSession) {
  srv.reset();
  auto old_ring = crypto::KeyRing::generate();
  srv = std::make_unique<TestServer>(rs, nullptr, std::nullopt, test_secrets(old_ring));
  auto s = create("xena", R"(,"data":{"kept":true})");
  srv.reset();
  auto fresh = crypto::KeyRing::generate();
  auto rotated = crypto::KeyRing::create({old_ring.keys()[0], fresh.keys()[0]});
  ASSERT_TRUE(rotated);
  srv = std::make_unique<TestServer>(rs, nullptr, std::nullopt, test_secrets(*rotated));
  auto v = validate(s.token);
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_TRUE(json_of(v).at("data").at("kept").as_bool());
  auto n = create("xena");
  std::string ct = rs.command({"HGET", session_key(n.token), "d"});
  EXPECT_EQ(ct.substr(2, fresh.keys()[0].kid.size()), fresh.keys()[0].kid) << "the newest key encrypts";
}

TEST_F(SessionsTest, RedisDownMeansUnavailableNeverValid) {
  auto s = create("yuri");
  rs.kill();
  for (int i = 0; i < 5; ++i) {
    auto r = validate(s.token);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(error_code(r), "unavailable");
    EXPECT_EQ(r.header("retry-after"), "1");
  }
  EXPECT_EQ(current(s.token).status, 503);
  EXPECT_EQ(srv->post("/v1/sessions", R"({"user_id":"yuri"})").status, 503);
  EXPECT_EQ(srv->get("/v1/users/yuri/sessions").status, 503);
  EXPECT_EQ(srv->del("/v1/sessions/current", {{"X-Session-Token", s.token}}).status, 503);
  rs.start();  // without persistence: the session is gone, and the server recovers by itself
  auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline &&
         (status = srv->post("/v1/sessions", R"({"user_id":"yuri"})").status) != 201)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(status, 201);
}

TEST_F(SessionsTest, FrozenRedisTimesOutAsUnavailable) {
  auto s = create("zoe");
  rs.pause();
  auto r = validate(s.token);
  rs.resume();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "1");
}

// --- concurrency with real parallel clients -------------------------------------------------

TEST_F(SessionsTest, ConcurrentCreatesNeverExceedTheLimit) {
  constexpr int kClients = 50;
  std::vector<std::future<HttpResult>> fs;
  for (int i = 0; i < kClients; ++i)
    fs.push_back(
        std::async(std::launch::async, [this] { return srv->post("/v1/sessions", R"({"user_id":"crowd"})"); }));
  std::vector<std::string> tokens;
  std::size_t evicted = 0;
  for (auto& f : fs) {
    auto r = f.get();
    ASSERT_EQ(r.status, 201) << r.body;
    tokens.emplace_back(json_of(r).at("token").as_string());
    evicted += json_of(r).at("evicted").as_array().size();
  }
  int live = 0;
  for (const auto& t : tokens) live += validate(t).status == 200;
  EXPECT_EQ(live, 5);
  EXPECT_EQ(evicted, static_cast<std::size_t>(kClients - 5));
  EXPECT_EQ(rs.command({"ZCARD", index_key("crowd")}), "5");
  EXPECT_EQ(json_of(srv->get("/v1/users/crowd/sessions")).at("sessions").as_array().size(), 5u);
  std::string keys = rs.command({"KEYS", "lk:s:*"});
  EXPECT_EQ(std::count(keys.begin(), keys.end(), '\n') + 1, 5);
}

TEST_F(SessionsTest, ConcurrentUpdatesWithOneVersionHaveExactlyOneWinner) {
  auto s = create("race");
  constexpr int kWriters = 20;
  std::vector<std::future<int>> fs;
  for (int i = 0; i < kWriters; ++i)
    fs.push_back(std::async(std::launch::async, [this, &s, i] {
      return update(s.token, "{\"data\":{\"writer\":" + std::to_string(i) + "},\"version\":1}").status;
    }));
  int ok = 0, conflict = 0;
  for (auto& f : fs) {
    int st = f.get();
    ok += st == 200;
    conflict += st == 409;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(conflict, kWriters - 1);
  EXPECT_EQ(json_of(validate(s.token)).at("version").as_int64(), 2);
}

TEST_F(SessionsTest, LogoutRacingUpdatesStaysLoggedOut) {
  for (int round = 0; round < 5; ++round) {
    auto s = create("racer");
    std::atomic<bool> go{false};
    std::vector<std::future<int>> fs;
    for (int i = 0; i < 10; ++i)
      fs.push_back(std::async(std::launch::async, [&, i] {
        while (!go) std::this_thread::yield();
        return update(s.token,
                      "{\"data\":{\"i\":" + std::to_string(i) + "},\"version\":" + std::to_string(1 + i % 3) + "}")
            .status;
      }));
    auto logout = std::async(std::launch::async, [&] {
      while (!go) std::this_thread::yield();
      return srv->del("/v1/sessions/current", {{"X-Session-Token", s.token}}).status;
    });
    go = true;
    for (auto& f : fs) {
      int st = f.get();
      EXPECT_TRUE(st == 200 || st == 409 || st == 401) << st;
    }
    EXPECT_EQ(logout.get(), 204);
    EXPECT_EQ(validate(s.token).status, 401);
    EXPECT_EQ(rs.command({"EXISTS", session_key(s.token)}), "0");
  }
}

TEST_F(SessionsTest, RotateRacingValidateLeavesOneLiveToken) {
  auto s = create("spinner");
  std::atomic<bool> go{false};
  std::vector<std::future<HttpResult>> rotations;
  for (int i = 0; i < 8; ++i)
    rotations.push_back(std::async(std::launch::async, [&] {
      while (!go) std::this_thread::yield();
      return http_request(srv->port(), "POST", "/v1/sessions/current/rotate", "",
                          {{"Authorization", "Bearer " + kAdminKey}, {"X-Session-Token", s.token}});
    }));
  std::vector<std::future<int>> validations;
  for (int i = 0; i < 8; ++i)
    validations.push_back(std::async(std::launch::async, [&] {
      while (!go) std::this_thread::yield();
      return validate(s.token).status;
    }));
  go = true;
  std::vector<std::string> tokens{s.token};
  int rotated = 0;
  for (auto& f : rotations) {
    auto r = f.get();
    EXPECT_TRUE(r.status == 200 || r.status == 401) << r.status << " " << r.body;
    if (r.status == 200) {
      ++rotated;
      tokens.emplace_back(json_of(r).at("token").as_string());
    }
  }
  for (auto& f : validations) {
    int st = f.get();
    EXPECT_TRUE(st == 200 || st == 401);
  }
  EXPECT_EQ(rotated, 1) << "one rotation of one token wins; the rest find it retired";
  int live = 0;
  for (const auto& t : tokens) live += validate(t).status == 200;
  EXPECT_EQ(live, 1) << "never two live tokens (overlap is 0)";
  EXPECT_EQ(json_of(srv->get("/v1/users/spinner/sessions")).at("sessions").as_array().size(), 1u);
}

// F9: under maxmemory, writes that need memory are refused (503, never a false success),
// while existing sessions and revocations keep being enforced exactly.
TEST_F(SessionsTest, OutOfMemoryRefusesNewStateButEnforcesExistingState) {
  auto live = create("omar");
  auto revoked = create("omar");
  ASSERT_EQ(srv->del("/v1/sessions/current", {{"X-Session-Token", revoked.token}}).status, 204);
  ASSERT_EQ(rs.command({"CONFIG", "SET", "maxmemory", "1"}), "OK");
  auto created = srv->post("/v1/sessions", R"({"user_id":"omar"})");
  auto still_valid = validate(live.token);
  auto still_revoked = validate(revoked.token);
  auto logout = srv->del("/v1/sessions/current", {{"X-Session-Token", live.token}});
  auto after_logout = validate(live.token);
  ASSERT_EQ(rs.command({"CONFIG", "SET", "maxmemory", "0"}), "OK");
  EXPECT_EQ(created.status, 503) << created.body;
  EXPECT_EQ(error_code(created), "unavailable");
  EXPECT_EQ(still_valid.status, 200) << still_valid.body;
  EXPECT_EQ(still_revoked.status, 401);
  EXPECT_EQ(logout.status, 204) << "logout (a delete) works under memory pressure";
  EXPECT_EQ(after_logout.status, 401);
  EXPECT_EQ(srv->post("/v1/sessions", R"({"user_id":"omar"})").status, 201) << "and creation recovers";
}

// Hardening 7: a token retired by rotation forwards reads during the overlap, nothing more: it
// can neither rotate the session (taking it over from the new token's holder) nor write to it.
TEST_F(SessionsTest, Hardening07ARetiredTokenIsReadOnly) {
  srv.reset();
  start([](Config& c) { c.session_rotate_overlap = std::chrono::seconds(30); });
  auto s = create("judy");
  auto rot = [&](const std::string& token) {
    return http_request(srv->port(), "POST", "/v1/sessions/current/rotate", "",
                        {{"Authorization", "Bearer " + kAdminKey}, {"X-Session-Token", token}});
  };
  auto r = rot(s.token);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string fresh(json_of(r).at("token").as_string());
  EXPECT_EQ(validate(s.token).status, 200) << "reads are forwarded inside the overlap";
  auto again = rot(s.token);
  EXPECT_EQ(again.status, 401) << "the retired token cannot rotate the new session away: " << again.body;
  auto v = json_of(validate(fresh)).as_object();
  auto up =
      update(s.token, R"({"data":{"role":"admin"},"version":)" + std::to_string(v.at("version").as_int64()) + "}");
  EXPECT_EQ(up.status, 401) << up.body;
  auto after = json_of(validate(fresh)).as_object();
  EXPECT_EQ(after.at("version"), v.at("version")) << "nothing was written";
  EXPECT_EQ(validate(fresh).status, 200) << "the new token still owns the session";
  EXPECT_EQ(rot(fresh).status, 200);
}
