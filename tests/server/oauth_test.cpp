// OAuth admin side over real HTTP against a real Redis: the client registry and the
// authorization endpoint (codes), their errors (RFC 7591 3.2.2, RFC 6749 4.1.2.1, RFC 9700
// 2.1, RFC 7636), bad input changing nothing, and Redis outages.
#include "latchkey/oauth.hpp"

#include "support/test_server.hpp"
#include "support/oauth_support.hpp"

#include <gtest/gtest.h>

#include <set>

#include <thread>

using namespace latchkey;
using namespace latchkey::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

class OAuthTest : public ::testing::Test {
 protected:
  void start(const std::function<void(Config&)>& tweak = {}) { srv = std::make_unique<TestServer>(rs, tweak); }
  void SetUp() override { start(); }

  json::object register_client(const std::string& body) {
    auto r = srv->post("/v1/oauth/clients", body);
    EXPECT_EQ(r.status, 201) << r.body;
    auto v = json_of(r);
    return v.is_object() ? v.as_object() : json::object{};
  }
  json::object confidential() {
    return register_client(
        R"({"client_name":"Shop","redirect_uris":["https://shop.example/cb","http://127.0.0.1/native"],)"
        R"("grant_types":["authorization_code","refresh_token","client_credentials"],"scope":"read write"})");
  }
  json::object public_client() {
    return register_client(
        R"({"client_name":"App","redirect_uris":["https://app.example/cb"],)"
        R"("grant_types":["authorization_code","refresh_token"],"scope":"read","token_endpoint_auth_method":"none"})");
  }
  // An authorization request with sensible defaults; `extra` overrides or adds fields.
  HttpResult authorize(const std::string& client_id, const std::string& extra = "") {
    json::object o{{"client_id", client_id},          {"redirect_uri", "https://shop.example/cb"},
                   {"response_type", "code"},         {"scope", "read"},
                   {"state", "af0ifjsldkj"},          {"code_challenge", kChallenge},
                   {"code_challenge_method", "S256"}, {"user_id", "alice"}};
    json::value overrides = extra.empty() ? json::value(json::object{}) : json::parse(extra);
    for (auto& [k, v] : overrides.as_object()) {
      if (v.is_null())
        o.erase(k);
      else
        o[k] = v;
    }
    return srv->post("/v1/oauth/authorizations", json::serialize(o));
  }

  RedisServer rs;
  std::unique_ptr<TestServer> srv;
};

}  // namespace

TEST_F(OAuthTest, RegisterConfidentialClientShowsTheSecretOnce) {
  auto r = srv->post("/v1/oauth/clients",
                     R"({"client_name":"Shop","redirect_uris":["https://shop.example/cb"],"scope":"read write"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-store");
  auto c = json_of(r).as_object();
  std::string id = str(c, "client_id"), secret = str(c, "client_secret");
  EXPECT_EQ(id.size(), 22u);
  EXPECT_EQ(secret.size(), 43u);  // 256 CSPRNG bits
  EXPECT_EQ(str(c, "token_endpoint_auth_method"), "client_secret_basic");
  EXPECT_EQ(c.at("grant_types").as_array().size(), 1u) << "default: authorization_code";
  EXPECT_EQ(c.at("response_types").as_array().at(0).as_string(), "code");
  EXPECT_EQ(c.at("client_secret_expires_at").as_int64(), 0);

  auto g = srv->get("/v1/oauth/clients/" + id);
  ASSERT_EQ(g.status, 200) << g.body;
  auto read = json_of(g).as_object();
  EXPECT_FALSE(read.contains("client_secret")) << "never shown again";
  EXPECT_EQ(str(read, "client_name"), "Shop");
  EXPECT_EQ(str(read, "scope"), "read write");
  EXPECT_EQ(read.at("redirect_uris").as_array().at(0).as_string(), "https://shop.example/cb");
  std::string dump = rs.dump_all(true);
  EXPECT_EQ(dump.find(secret), std::string::npos) << "the secret is stored only hashed";
  EXPECT_NE(dump.find(crypto::base64url_encode(crypto::sha256(secret))), std::string::npos);
}

TEST_F(OAuthTest, RegisterPublicClientHasNoSecret) {
  auto c = public_client();
  EXPECT_FALSE(c.contains("client_secret"));
  EXPECT_EQ(str(c, "token_endpoint_auth_method"), "none");
}

TEST_F(OAuthTest, RegistrationRejectsBadMetadataAndChangesNothing) {
  confidential();
  const std::string before = rs.dump_all();
  const std::pair<std::string, std::string> cases[] = {
      {R"({"redirect_uris":["http://shop.example/cb"]})", "invalid_redirect_uri"},
      {R"({"redirect_uris":["https://shop.example/cb#frag"]})", "invalid_redirect_uri"},
      {R"({"redirect_uris":["/relative"]})", "invalid_redirect_uri"},
      {R"({"redirect_uris":"https://shop.example/cb"})", "invalid_redirect_uri"},
      {R"({"redirect_uris":[42]})", "invalid_redirect_uri"},
      {R"({"redirect_uris":[]})", "invalid_redirect_uri"},
      {R"({"grant_types":["authorization_code"]})", "invalid_redirect_uri"},
      {R"({"redirect_uris":["https://a.example/cb"],"grant_types":["password"]})", "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]})", "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"grant_types":[]})", "invalid_client_metadata"},
      {R"({"grant_types":["refresh_token"]})", "invalid_client_metadata"},
      {R"({"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"})", "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"scope":"a  b"})", "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"scope":7})", "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"client_name":7})", "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"client_secret":"mine"})", "invalid_request"},
      {R"({"redirect_uris":["https://a.example/cb"])", "invalid_request"},
  };
  for (const auto& [body, code] : cases) {
    auto r = srv->post("/v1/oauth/clients", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(error_code(r), code) << body;
  }
  EXPECT_EQ(
      srv->post("/v1/oauth/clients", R"({"redirect_uris":["https://a.example/cb"]})", {{"Authorization", ""}}).status,
      401);
  EXPECT_EQ(
      srv->post("/v1/oauth/clients", R"({"redirect_uris":["https://a.example/cb"]})", {{"Content-Type", "text/plain"}})
          .status,
      415);
  EXPECT_EQ(rs.dump_all(), before);
}

TEST_F(OAuthTest, ReadAndDeleteClients) {
  auto c = confidential();
  std::string id = str(c, "client_id");
  EXPECT_EQ(srv->get("/v1/oauth/clients/" + id, {{"Authorization", ""}}).status, 401);
  EXPECT_EQ(srv->del("/v1/oauth/clients/" + id).status, 204);
  EXPECT_EQ(srv->get("/v1/oauth/clients/" + id).status, 404);
  EXPECT_EQ(srv->del("/v1/oauth/clients/" + id).status, 404);
  EXPECT_EQ(srv->get("/v1/oauth/clients/nope").status, 404);
  EXPECT_EQ(srv->get("/v1/oauth/clients/AAAAAAAAAAAAAAAAAAAAAA").status, 404);
  EXPECT_EQ(error_code(authorize(id)), "invalid_request") << "a deleted client gets no codes";
}

TEST_F(OAuthTest, ClientsAreListedInPagesAndADeletedOneIsGone) {
  std::set<std::string> made;
  for (int i = 0; i < 5; ++i) made.insert(str(i % 2 ? confidential() : public_client(), "client_id"));
  // Pages of two, in client_id order, until next is null.
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    auto r = srv->get("/v1/oauth/clients?limit=2" + (after.empty() ? "" : "&after=" + after));
    ASSERT_EQ(r.status, 200) << r.body;
    auto o = json_of(r).as_object();
    const auto& cs = o.at("clients").as_array();
    EXPECT_LE(cs.size(), 2u);
    for (const auto& c : cs) {
      seen.emplace_back(c.at("client_id").as_string());
      EXPECT_FALSE(c.as_object().contains("client_secret")) << "the secret is shown once, at registration";
      EXPECT_FALSE(c.at("redirect_uris").as_array().empty());
    }
    if (o.at("next").is_null()) break;
    after = std::string(o.at("next").as_string());
  }
  EXPECT_EQ(seen, std::vector<std::string>(made.begin(), made.end()));
  // A deleted client is not listed; an id left in the index without its record (a delete cut
  // off after its DEL) is skipped and pruned.
  const std::string first = *made.begin(), second = *std::next(made.begin());
  ASSERT_EQ(srv->del("/v1/oauth/clients/" + first).status, 204);
  ASSERT_EQ(rs.command({"DEL", "lk:oc:" + second}), "1") << second;
  auto all = json_of(srv->get("/v1/oauth/clients")).as_object();
  ASSERT_EQ(all.at("clients").as_array().size(), 3u) << json::serialize(all);
  EXPECT_TRUE(all.at("next").is_null());
  for (const auto& c : all.at("clients").as_array()) {
    EXPECT_NE(c.at("client_id").as_string(), first);
    EXPECT_NE(c.at("client_id").as_string(), second);
  }
  EXPECT_EQ(rs.command({"ZCARD", "lk:ocs"}), "3");
  // Bad paging is refused and changes nothing; the list needs the admin key.
  const std::string before = rs.dump_all();
  for (const char* q : {"?limit=0", "?limit=1001", "?limit=x", "?limit=", "?limit=-1", "?limit=2.5", "?after=short",
                        "?after=AAAAAAAAAAAAAAAAAAAAA%00", "?limit=99999999999999999999999"}) {
    auto r = srv->get(std::string("/v1/oauth/clients") + q);
    EXPECT_EQ(r.status, 400) << q << " -> " << r.body;
    EXPECT_EQ(error_code(r), "invalid_request") << q;
  }
  EXPECT_EQ(srv->get("/v1/oauth/clients", {{"Authorization", ""}}).status, 401);
  EXPECT_EQ(rs.dump_all(), before);
}

TEST_F(OAuthTest, AuthorizationIssuesAHashedShortLivedCode) {
  std::string id = str(confidential(), "client_id");
  auto r = authorize(id);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-store");
  auto o = json_of(r).as_object();
  std::string code = str(o, "code");
  EXPECT_EQ(code.size(), 47u);
  EXPECT_EQ(o.at("expires_in").as_int64(), 60);
  EXPECT_EQ(str(o, "redirect_to"), "https://shop.example/cb?code=" + code + "&state=af0ifjsldkj&iss=latchkey");
  std::string dump = rs.dump_all(true);
  EXPECT_EQ(dump.find(code), std::string::npos) << "codes are stored only hashed";
  EXPECT_EQ(dump.find("alice"), std::string::npos) << "the user id is sealed";
  std::string key = rs.command({"KEYS", "lk:ac:*"});
  EXPECT_NE(key.find(crypto::base64url_encode(crypto::sha256(code))), std::string::npos);
  int ttl = std::stoi(rs.command({"TTL", key}));
  EXPECT_GT(ttl, 55);
  EXPECT_LE(ttl, 60);
  // Two requests, two different codes.
  EXPECT_NE(str(json_of(authorize(id)).as_object(), "code"), code);
}

TEST_F(OAuthTest, CodeLifetimeIsConfigurable) {
  start([](Config& c) { c.oauth_code_ttl = std::chrono::seconds(1); });
  std::string id = str(confidential(), "client_id");
  ASSERT_EQ(authorize(id).status, 201);
  std::this_thread::sleep_for(2100ms);
  EXPECT_EQ(rs.command({"KEYS", "lk:ac:*"}), "") << "expired codes are gone";
}

TEST_F(OAuthTest, LoopbackRedirectMayUseAnyPortAndDefaultsApply) {
  std::string id = str(confidential(), "client_id");
  auto r = authorize(id, R"({"redirect_uri":"http://127.0.0.1:51004/native","scope":null,"state":null})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto to = str(json_of(r).as_object(), "redirect_to");
  EXPECT_EQ(to.rfind("http://127.0.0.1:51004/native?code=", 0), 0u) << to;
  EXPECT_EQ(to.find("state="), std::string::npos);
  // A client with one redirect URI may omit it.
  std::string pub = str(public_client(), "client_id");
  auto p = authorize(pub, R"({"redirect_uri":null})");
  ASSERT_EQ(p.status, 201) << p.body;
  EXPECT_EQ(str(json_of(p).as_object(), "redirect_to").rfind("https://app.example/cb?code=", 0), 0u);
}

// Errors about the client or its redirect URI are never redirected (no open redirector).
TEST_F(OAuthTest, BadClientOrRedirectUriIsNeverRedirected) {
  std::string id = str(confidential(), "client_id");
  const std::string before = rs.dump_all();
  for (const std::string& extra :
       {std::string(R"({"client_id":"AAAAAAAAAAAAAAAAAAAAAA"})"), std::string(R"({"client_id":null})"),
        std::string(R"({"redirect_uri":"https://evil.example/cb"})"),
        std::string(R"({"redirect_uri":"https://shop.example/cb/../x"})"),
        std::string(R"({"redirect_uri":"https://shop.example/cb?extra=1"})"),
        std::string(R"({"redirect_uri":"https://SHOP.example/cb"})"),
        std::string(R"({"redirect_uri":null})"),  // two registered: required
        std::string(R"({"user_id":""})"), std::string(R"({"user_id":null})"),
        std::string(R"({"state":")") + std::string(1025, 's') + "\"}"}) {
    auto r = authorize(id, extra);
    EXPECT_EQ(r.status, 400) << extra << " -> " << r.body;
    EXPECT_EQ(error_code(r), "invalid_request") << extra;
    EXPECT_FALSE(json_of(r).as_object().contains("redirect_to")) << extra;
  }
  EXPECT_EQ(rs.dump_all(), before);
}

// Errors once the client and redirect URI are known go back through the redirect URI, with
// the state (RFC 6749 4.1.2.1).
TEST_F(OAuthTest, OtherErrorsCarryARedirectWithErrorAndState) {
  std::string id = str(confidential(), "client_id");
  std::string pub = str(public_client(), "client_id");
  std::string cc_only = str(register_client(R"({"grant_types":["client_credentials"],"scope":"read"})"), "client_id");
  const std::string before = rs.dump_all();
  struct Case {
    std::string client, extra, error;
  };
  const Case cases[] = {
      {id, R"({"response_type":"token"})", "unsupported_response_type"},
      {id, R"({"response_type":null})", "unsupported_response_type"},
      {id, R"({"scope":"admin"})", "invalid_scope"},
      {id, R"({"scope":"read  write"})", "invalid_scope"},
      {id, R"({"code_challenge_method":"plain"})", "invalid_request"},
      {id, R"({"code_challenge_method":null})", "invalid_request"},  // missing method = plain
      {id, R"({"code_challenge":"short"})", "invalid_request"},
      {id, R"({"code_challenge":null})", "invalid_request"},  // PKCE required for confidential clients by default
      {id, R"({"code_challenge":null,"code_challenge_method":null})", "invalid_request"},
      {pub, R"({"redirect_uri":"https://app.example/cb","code_challenge":null,"code_challenge_method":null})",
       "invalid_request"},
  };
  for (const auto& c : cases) {
    auto r = authorize(c.client, c.extra);
    EXPECT_EQ(r.status, 400) << c.extra << " -> " << r.body;
    EXPECT_EQ(error_code(r), c.error) << c.extra;
    auto doc = json_of(r);
    auto to = doc.as_object().if_contains("redirect_to");
    ASSERT_TRUE(to) << c.extra;
    std::string s(to->as_string());
    EXPECT_NE(s.find("error=" + c.error), std::string::npos) << s;
    EXPECT_NE(s.find("state=af0ifjsldkj"), std::string::npos) << s;
    EXPECT_EQ(s.find("code="), std::string::npos);
  }
  // A client registered without authorization_code has no redirect URI: not redirected.
  auto r = authorize(cc_only, R"({"redirect_uri":null})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(rs.dump_all(), before);
}

TEST_F(OAuthTest, PkceOptionalForConfidentialClientsWhenConfigured) {
  start([](Config& c) { c.oauth_require_pkce = false; });
  std::string id = str(confidential(), "client_id");
  EXPECT_EQ(authorize(id, R"({"code_challenge":null,"code_challenge_method":null})").status, 201);
  std::string pub = str(public_client(), "client_id");
  EXPECT_EQ(authorize(pub, R"({"redirect_uri":null,"code_challenge":null,"code_challenge_method":null})").status, 400)
      << "public clients always need PKCE";
}

TEST_F(OAuthTest, BadInputIsRejected) {
  std::string id = str(confidential(), "client_id");
  const std::string before = rs.dump_all();
  EXPECT_EQ(srv->post("/v1/oauth/authorizations", R"({"client_id":7})").status, 400);
  EXPECT_EQ(srv->post("/v1/oauth/authorizations", R"({"client_id":")" + id + R"(","nonce":"x"})").status, 400);
  EXPECT_EQ(srv->post("/v1/oauth/authorizations", "not json").status, 400);
  EXPECT_EQ(srv->post("/v1/oauth/authorizations", "{}", {{"Authorization", ""}}).status, 401);
  EXPECT_EQ(srv->post("/v1/oauth/authorizations", "{}", {{"Content-Type", "application/x-www-form-urlencoded"}}).status,
            415);
  EXPECT_EQ(rs.dump_all(), before);
}

TEST_F(OAuthTest, RedisDownMeansUnavailable) {
  std::string id = str(confidential(), "client_id");
  rs.kill();
  for (auto r : {authorize(id), srv->get("/v1/oauth/clients/" + id), srv->get("/v1/oauth/clients"),
                 srv->post("/v1/oauth/clients", R"({"redirect_uris":["https://a.example/cb"]})"),
                 srv->del("/v1/oauth/clients/" + id)}) {
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.header("retry-after"), "1");
    EXPECT_EQ(r.body.find("\"code\""), std::string::npos);
  }
}
