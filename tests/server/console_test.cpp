// The console's listener over real HTTP against a real Redis (the browser test,
// tests/console/, drives the page itself): only on console_listen; login through latchkey's
// own lockout; the admin API there by session cookie, never by key; CSRF on every write; a
// session made through the API is not a console session; logout; Redis down is 503.
#include "server/router.hpp"
#include "support/test_server.hpp"

#include <gtest/gtest.h>

using namespace latchkey;
using namespace latchkey::test;
namespace json = boost::json;

namespace {

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    srv = std::make_unique<TestServer>(rs, [](Config& c) {
      c.console_listen = ListenAddress{"127.0.0.1", 0};
      c.admin_read_only_keys = {kReadOnly};
    });
    port = srv->server().port(server::console_listener);
    ASSERT_NE(port, srv->port());
  }
  HttpResult at(const std::string& method, const std::string& path, const std::string& body = "",
                std::map<std::string, std::string> headers = {}) {
    if (!body.empty() && !headers.contains("Content-Type")) headers["Content-Type"] = "application/json";
    return http_request(port, method, path, body, headers);
  }
  struct Login {
    std::string cookie, csrf;
  };
  Login login(const std::string& key) {
    auto r = at("POST", "/console/login", json::serialize(json::object{{"key", key}}));
    EXPECT_EQ(r.status, 200) << r.body;
    auto set = r.header("set-cookie");
    Login l;
    l.cookie = set.substr(0, set.find(';'));
    if (r.status == 200) l.csrf = std::string(json_of(r).at("csrf_token").as_string());
    return l;
  }
  static inline const std::string kReadOnly = "ro-key-for-the-console-test-0123456789abcdef";
  RedisServer rs;
  std::unique_ptr<TestServer> srv;
  std::uint16_t port = 0;
};

}  // namespace

TEST_F(ConsoleTest, OnlyOnItsOwnListenerWithItsHeaders) {
  auto page = at("GET", "/console/");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.header("content-security-policy").find("default-src 'self'"), std::string::npos);
  EXPECT_NE(page.header("content-security-policy").find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(page.header("cache-control"), "no-store");
  EXPECT_EQ(page.header("x-frame-options"), "DENY");
  EXPECT_EQ(at("GET", "/console/app.js").status, 200);
  EXPECT_EQ(at("GET", "/console/nope.js").status, 404);
  EXPECT_EQ(at("GET", "/console/%2e%2e%2fCMakeLists.txt").status, 404);
  // Not on the public/admin listener, and not at all without console_listen.
  EXPECT_EQ(srv->get("/console/").status, 404);
  EXPECT_EQ(srv->post("/console/login", R"({"key":"x"})").status, 404);
  RedisServer rs2;
  TestServer plain(rs2);
  EXPECT_EQ(plain.server().port(server::console_listener), 0);
  EXPECT_EQ(plain.get("/console/").status, 404);
  // Errors on the console listener carry the headers too.
  EXPECT_EQ(at("GET", "/v1/events").header("content-security-policy").empty(), false);
  HttpConnection raw(port);
  ASSERT_TRUE(raw.send_raw("NOT HTTP AT ALL\r\n\r\n"));
  auto malformed = raw.read_response();
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.header("content-security-policy").find("frame-ancestors 'none'"), std::string::npos)
      << "even a request that never reached the router";
}

TEST_F(ConsoleTest, TheAdminApiThereTakesTheSessionNeverAKey) {
  EXPECT_EQ(at("GET", "/v1/events", "", {{"Authorization", "Bearer " + kAdminKey}}).status, 401);
  auto l = login(kAdminKey);
  auto set = at("POST", "/console/login", R"({"key":")" + kAdminKey + R"("})").header("set-cookie");
  for (const char* attr : {"__Host-latchkey-console=", "; Path=/", "; HttpOnly", "; Secure", "; SameSite=Strict"})
    EXPECT_NE(set.find(attr), std::string::npos) << attr << " in " << set;
  EXPECT_EQ(set.find("Domain"), std::string::npos);
  const std::map<std::string, std::string> c{{"Cookie", l.cookie}};
  EXPECT_EQ(at("GET", "/v1/events", "", c).status, 200);
  EXPECT_EQ(at("GET", "/v1/events/summary", "", c).status, 200);
  auto s = at("GET", "/console/session", "", c);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(json_of(s).at("grant").as_string(), "full");
  EXPECT_EQ(json_of(s).at("csrf_token").as_string(), l.csrf);

  // A write without (or with a wrong) CSRF token is refused before the handler.
  ASSERT_EQ(srv->post("/v1/sessions", R"({"user_id":"alice"})").status, 201);
  const std::string before = rs.dump_all();
  auto no_csrf = at("DELETE", "/v1/users/alice/sessions", "", c);
  EXPECT_EQ(no_csrf.status, 403) << no_csrf.body;
  EXPECT_EQ(error_code(no_csrf), "forbidden");
  auto wrong = c;
  wrong["X-CSRF-Token"] = std::string(43, 'A');
  EXPECT_EQ(at("DELETE", "/v1/users/alice/sessions", "", wrong).status, 403);
  EXPECT_EQ(rs.dump_all(), before);
  auto ev = events_of(*srv, "?type=admin_auth_failure", 3).at(0).as_object();  // newest first
  EXPECT_EQ(ev.at("outcome").as_string(), "csrf");
  EXPECT_EQ(ev.at("via").as_string(), "console");
  auto with = c;
  with["X-CSRF-Token"] = l.csrf;
  auto done = at("DELETE", "/v1/users/alice/sessions", "", with);
  EXPECT_EQ(done.status, 200) << done.body;

  // Logout needs the token too; afterwards the cookie is nothing.
  EXPECT_EQ(at("POST", "/console/logout", "", c).status, 403);
  auto out = at("POST", "/console/logout", "", with);
  EXPECT_EQ(out.status, 204);
  EXPECT_NE(out.header("set-cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(at("GET", "/v1/events", "", c).status, 401);
  EXPECT_EQ(at("GET", "/console/session", "", c).status, 401);
}

TEST_F(ConsoleTest, ASessionMadeThroughTheApiIsNotAConsoleSession) {
  // Same user id and the data a console session holds, but no proof from the server's key.
  auto made = srv->post("/v1/sessions", R"({"user_id":"latchkey-console","data":{"grant":"full","csrf":")" +
                                            std::string(43, 'c') + R"(","proof":"forged"}})");
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string forged = "__Host-latchkey-console=" + std::string(json_of(made).at("token").as_string());
  EXPECT_EQ(at("GET", "/v1/events", "", {{"Cookie", forged}}).status, 401);
  EXPECT_EQ(at("GET", "/console/session", "", {{"Cookie", forged}}).status, 401);
  for (const std::string& junk : {std::string("__Host-latchkey-console="), std::string("__Host-latchkey-console=x"),
                                  "__Host-latchkey-console=" + std::string(5000, 'A'), std::string("other=1")})
    EXPECT_EQ(at("GET", "/v1/events", "", {{"Cookie", junk}}).status, 401) << junk.substr(0, 40);
}

TEST_F(ConsoleTest, ReadOnlyKeysReadAndNeverWrite) {
  auto l = login(kReadOnly);
  const std::map<std::string, std::string> c{{"Cookie", l.cookie}, {"X-CSRF-Token", l.csrf}};
  EXPECT_EQ(json_of(at("GET", "/console/session", "", c)).at("grant").as_string(), "read_only");
  EXPECT_EQ(at("GET", "/v1/users/alice/sessions", "", c).status, 200);
  const std::string before = rs.dump_all();
  auto r = at("POST", "/v1/oauth/clients", R"({"grant_types":["client_credentials"]})", c);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(at("DELETE", "/v1/users/alice/lockout", "", c).status, 403);
  EXPECT_EQ(rs.dump_all(), before);
  auto ev = event_of(*srv, "console_login");
  EXPECT_EQ(ev.at("outcome").as_string(), "read_only");
  EXPECT_EQ(json::serialize(ev).find(kReadOnly), std::string::npos) << "never the key";
}

TEST_F(ConsoleTest, WrongKeysLockTheConsoleLoginOfThatAddress) {
  const auto max = srv->config().login_max_failures;
  for (std::int64_t i = 0; i < max; ++i) {
    auto r = at("POST", "/console/login", R"({"key":"wrong-key-0123456789abcdef0123456789"})");
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_TRUE(r.header("set-cookie").empty());
  }
  auto locked = at("POST", "/console/login", R"({"key":")" + kAdminKey + R"("})");
  EXPECT_EQ(locked.status, 429) << locked.body;
  EXPECT_FALSE(locked.header("retry-after").empty());
  EXPECT_TRUE(locked.header("set-cookie").empty());
  auto st = json_of(srv->get("/v1/users/console@127.0.0.1/lockout"));
  EXPECT_TRUE(st.at("locked").as_bool());
  auto evs = events_of(*srv, "?type=console_login_failure", static_cast<std::size_t>(max) + 1);
  EXPECT_EQ(evs.size(), static_cast<std::size_t>(max) + 1);
  EXPECT_EQ(evs[0].at("outcome").as_string(), "locked");
  ASSERT_EQ(srv->del("/v1/users/console@127.0.0.1/lockout").status, 204);
  login(kAdminKey);
}

TEST_F(ConsoleTest, BadLoginsAreRefusedAndChangeNothing) {
  const std::string before = rs.dump_all();
  for (const std::string& body :
       {std::string("not json"), std::string(R"({"key":7})"), std::string(R"({"key":""})"),
        std::string(R"({"key":"x","more":1})"), std::string(R"([])"), R"({"key":")" + std::string(600, 'k') + R"("})"})
    EXPECT_EQ(at("POST", "/console/login", body).status, 400) << body.substr(0, 40);
  EXPECT_EQ(at("POST", "/console/login", R"({"key":"x"})", {{"Content-Type", "text/plain"}}).status, 415);
  EXPECT_EQ(at("GET", "/console/login").status, 404) << "a GET there asks for a file, and there is none";
  EXPECT_EQ(rs.dump_all(), before);
}

TEST_F(ConsoleTest, RedisDownIsUnavailableNeverALogin) {
  auto l = login(kAdminKey);
  rs.kill();
  EXPECT_EQ(at("POST", "/console/login", R"({"key":")" + kAdminKey + R"("})").status, 503);
  auto r = at("GET", "/v1/events", "", {{"Cookie", l.cookie}});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(at("GET", "/console/session", "", {{"Cookie", l.cookie}}).status, 503);
  EXPECT_EQ(at("GET", "/console/").status, 200) << "the page itself needs no Redis";
}
