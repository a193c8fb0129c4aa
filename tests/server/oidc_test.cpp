// OpenID Connect on the OAuth server over real HTTP against a real Redis: what the backend
// says of the login (nonce, auth_time, acr, amr, claims, max_age), ID tokens on the code and
// on refresh (verified through the published JWKS), /oauth2/userinfo with its RFC 6750
// errors, discovery, hostile input that changes nothing, and Redis outages.
#include "latchkey/crypto/jws.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/clock.hpp"
#include "latchkey/oidc.hpp"

#include "support/oauth_support.hpp"
#include "support/process.hpp"

#include <gtest/gtest.h>

using namespace latchkey;
using namespace latchkey::test;
namespace json = boost::json;

namespace {

class OidcTest : public OAuthHttpTest {
 protected:
  void SetUp() override {
    start([](Config& c) { c.token_issuer = "https://auth.example"; });
  }
  ClientCreds oidc_client(const std::string& method = "client_secret_basic") {
    return register_client(R"({"client_name":"Shop","redirect_uris":[")" + kRedirect +
                           R"("],"grant_types":["authorization_code","refresh_token"],)"
                           R"("scope":"openid profile email phone read","token_endpoint_auth_method":")" +
                           method + R"("})");
  }
  // The login the backend hands over with the authorization.
  std::string login_fields(const std::string& scope = "openid profile email") const {
    return R"({"scope":")" + scope + R"(","nonce":"n-0S6_WzA2Mj","auth_time":)" + std::to_string(auth_time) +
           R"(,"acr":"urn:example:mfa","amr":["pwd","otp"],)"
           R"("claims":{"name":"Alice Liddell","email":"alice@example.com","email_verified":true,)"
           R"("phone_number":"+1 555 0100","updated_at":1700000000}})";
  }
  // The claims of an ID token, verified with the keys of the published JWKS (nullopt if not).
  std::optional<json::object> verified(const std::string& id_token) {
    auto jwks = json_of(srv->get("/.well-known/jwks.json", {{"Authorization", ""}}));
    std::vector<crypto::jws::Key> keys;
    for (const auto& k : jwks.at("keys").as_array()) {
      auto key = crypto::jws::Key::from_jwk(k.as_object());
      if (key) keys.push_back(*key);
    }
    crypto::jws::Verifier v(std::move(keys));
    auto r = v.verify(id_token);
    auto* ok = std::get_if<crypto::jws::Verified>(&r);
    if (!ok) return std::nullopt;
    if (ok->header.at("typ").as_string() != "JWT") return std::nullopt;
    return ok->claims;
  }
  std::int64_t auth_time = unix_now() - 30;
};

std::int64_t num(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_int64() ? v->as_int64() : -1;
}

}  // namespace

TEST_F(OidcTest, TheCodeFlowGivesAnIdTokenThatVerifiesAndSaysWhatTheBackendSaid) {
  auto c = oidc_client();
  auto code = code_for(c.id, login_fields());
  auto r = redeem(c, code);
  ASSERT_EQ(r.status, 200) << r.body;
  auto t = obj(r);
  ASSERT_FALSE(str(t, "id_token").empty()) << r.body;
  EXPECT_EQ(str(t, "scope"), "openid profile email");
  auto claims = verified(str(t, "id_token"));
  ASSERT_TRUE(claims) << "the ID token verifies with the JWKS";
  const auto& id = *claims;
  EXPECT_EQ(str(id, "iss"), "https://auth.example");
  EXPECT_EQ(str(id, "sub"), "alice");
  EXPECT_EQ(str(id, "aud"), c.id);
  EXPECT_EQ(str(id, "azp"), c.id);
  EXPECT_EQ(str(id, "nonce"), "n-0S6_WzA2Mj");
  EXPECT_EQ(num(id, "auth_time"), auth_time);
  EXPECT_EQ(str(id, "acr"), "urn:example:mfa");
  EXPECT_EQ(json::serialize(id.at("amr")), R"(["pwd","otp"])");
  EXPECT_EQ(num(id, "exp") - num(id, "iat"), srv->config().token_access_ttl.count());
  EXPECT_LE(std::abs(num(id, "iat") - unix_now()), 5);
  // at_hash (OIDC Core 3.1.3.6): the left half of the access token's hash; EdDSA: SHA-512.
  EXPECT_EQ(str(id, "at_hash"), oidc::left_half_hash(str(t, "access_token"), crypto::jws::Alg::EdDSA));
  EXPECT_EQ(str(id, "at_hash").size(), 43u);
  EXPECT_FALSE(str(id, "sid").empty());
  // The claims that profile and email release, and nothing of phone (not granted).
  EXPECT_EQ(str(id, "name"), "Alice Liddell");
  EXPECT_EQ(str(id, "email"), "alice@example.com");
  EXPECT_TRUE(id.at("email_verified").as_bool());
  EXPECT_EQ(num(id, "updated_at"), 1700000000);
  EXPECT_FALSE(id.contains("phone_number"));
  // The login is sealed at rest: nothing of it is readable in Redis.
  auto dump = rs.command({"EVAL",
                          "local out = '' for _, k in ipairs(redis.call('KEYS', 'lk:oi:*')) do "
                          "out = out .. redis.call('GET', k) end return out",
                          "0"});
  EXPECT_FALSE(dump.empty());
  EXPECT_EQ(dump.find("alice@example.com"), std::string::npos);
  EXPECT_EQ(dump.find("Alice"), std::string::npos);

  // The refresh brings a new ID token: same user, grant and login, no nonce (OIDC Core 12.2).
  auto rr = refresh(c, str(t, "refresh_token"));
  ASSERT_EQ(rr.status, 200) << rr.body;
  auto t2 = obj(rr);
  auto again = verified(str(t2, "id_token"));
  ASSERT_TRUE(again) << rr.body;
  EXPECT_EQ(str(*again, "sub"), "alice");
  EXPECT_EQ(str(*again, "aud"), c.id);
  EXPECT_EQ(str(*again, "sid"), str(id, "sid"));
  EXPECT_EQ(num(*again, "auth_time"), auth_time);
  EXPECT_EQ(str(*again, "acr"), "urn:example:mfa");
  EXPECT_FALSE(again->contains("nonce"));
  EXPECT_EQ(str(*again, "email"), "alice@example.com");
  EXPECT_EQ(str(*again, "at_hash"), oidc::left_half_hash(str(t2, "access_token"), crypto::jws::Alg::EdDSA));
  // A refresh narrowed to a scope without openid has no ID token.
  auto narrow = refresh(c, str(t2, "refresh_token"), "&scope=email");
  ASSERT_EQ(narrow.status, 200) << narrow.body;
  EXPECT_FALSE(obj(narrow).contains("id_token")) << narrow.body;
}

TEST_F(OidcTest, WithoutOpenidThereIsNoIdTokenAndAnOpenidCodeWithoutALoginStillHasOne) {
  auto c = oidc_client();
  auto plain = redeem(c, code_for(c.id, R"({"scope":"read"})"));
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_FALSE(obj(plain).contains("id_token"));
  EXPECT_EQ(count("oi"), 0) << "no login is kept for a grant without openid";
  auto bare = redeem(c, code_for(c.id, R"({"scope":"openid"})"));
  ASSERT_EQ(bare.status, 200) << bare.body;
  auto id = verified(str(obj(bare), "id_token"));
  ASSERT_TRUE(id);
  EXPECT_EQ(str(*id, "sub"), "alice");
  for (const char* absent : {"nonce", "auth_time", "acr", "amr", "email", "name"})
    EXPECT_FALSE(id->contains(absent)) << absent;
}

TEST_F(OidcTest, UserinfoAnswersTheReleasedClaimsWithRfc6750Errors) {
  auto c = oidc_client();
  auto t = obj(redeem(c, code_for(c.id, login_fields())));
  std::string at = str(t, "access_token");
  auto get = srv->get("/oauth2/userinfo", {{"Authorization", "Bearer " + at}});
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.header("cache-control"), "no-store");
  auto u = obj(get);
  EXPECT_EQ(str(u, "sub"), "alice");
  EXPECT_EQ(str(u, "name"), "Alice Liddell");
  EXPECT_EQ(str(u, "email"), "alice@example.com");
  EXPECT_FALSE(u.contains("phone_number"));
  // POST with the token in the header, or in the form body (RFC 6750 2.2).
  auto post = srv->post("/oauth2/userinfo", "", {{"Authorization", "Bearer " + at}});
  EXPECT_EQ(post.status, 200) << post.body;
  auto body = srv->post("/oauth2/userinfo", "access_token=" + form_escape(at),
                        {{"Authorization", ""}, {"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(body.status, 200) << body.body;
  EXPECT_EQ(obj(body), u);

  // No token: the bare challenge. A bad one: invalid_token with the challenge.
  auto none = srv->get("/oauth2/userinfo", {{"Authorization", ""}});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.header("www-authenticate"), "Bearer realm=\"latchkey\"");
  for (std::string bad : {std::string("nope"), at + "x", str(t, "refresh_token"), str(t, "id_token")}) {
    auto r = srv->get("/oauth2/userinfo", {{"Authorization", "Bearer " + bad}});
    EXPECT_EQ(r.status, 401) << bad;
    EXPECT_EQ(error_code(r), "invalid_token");
    EXPECT_NE(r.header("www-authenticate").find("Bearer error=\"invalid_token\""), std::string::npos);
  }
  // In the URL: refused (RFC 6750 2.3 is not supported; tokens never travel in URLs).
  auto url = srv->get("/oauth2/userinfo?access_token=" + at, {{"Authorization", ""}});
  EXPECT_EQ(url.status, 400);
  EXPECT_EQ(error_code(url), "invalid_request");
  auto scheme = srv->get("/oauth2/userinfo", {{"Authorization", "Basic " + at}});
  EXPECT_EQ(scheme.status, 400);
  // A token without openid: insufficient_scope (403).
  auto plain = obj(redeem(c, code_for(c.id, R"({"scope":"read"})")));
  auto r = srv->get("/oauth2/userinfo", {{"Authorization", "Bearer " + str(plain, "access_token")}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(error_code(r), "insufficient_scope");
  EXPECT_NE(r.header("www-authenticate").find("error=\"insufficient_scope\""), std::string::npos);
  // Revoked (the grant ended): invalid_token.
  ASSERT_EQ(form("/oauth2/revoke", "token=" + form_escape(str(t, "refresh_token")), c).status, 200);
  auto gone = srv->get("/oauth2/userinfo", {{"Authorization", "Bearer " + at}});
  EXPECT_EQ(gone.status, 401) << gone.body;
  // A deleted client's tokens are not active here either.
  auto t2 = obj(redeem(c, code_for(c.id, login_fields())));
  ASSERT_EQ(srv->del("/v1/oauth/clients/" + c.id).status, 204);
  auto deleted = srv->get("/oauth2/userinfo", {{"Authorization", "Bearer " + str(t2, "access_token")}});
  EXPECT_EQ(deleted.status, 401) << deleted.body;
}

TEST_F(OidcTest, UserinfoWorksForJwtAccessTokensAndNotForAClientsOwnToken) {
  start([](Config& cfg) {
    cfg.token_issuer = "https://auth.example";
    cfg.oauth_access_token_format = "jwt";
  });
  auto c = register_client(R"({"client_name":"Svc","redirect_uris":[")" + kRedirect +
                           R"("],"grant_types":["authorization_code","client_credentials"],)"
                           R"("scope":"openid email"})");
  auto t = obj(redeem(c, code_for(c.id, login_fields("openid email"))));
  ASSERT_FALSE(str(t, "id_token").empty());
  EXPECT_FALSE(t.contains("refresh_token"));
  auto u = srv->get("/oauth2/userinfo", {{"Authorization", "Bearer " + str(t, "access_token")}});
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(str(obj(u), "email"), "alice@example.com");
  EXPECT_FALSE(obj(u).contains("name")) << "profile was not granted";
  auto own = obj(form("/oauth2/token", "grant_type=client_credentials&scope=openid", c));
  auto r = srv->get("/oauth2/userinfo", {{"Authorization", "Bearer " + str(own, "access_token")}});
  EXPECT_EQ(r.status, 403) << r.body;
}

TEST_F(OidcTest, MaxAgeRefusesAnOldLoginWithLoginRequiredAndStoresNothing) {
  auto c = oidc_client();
  json::object o{{"client_id", c.id},
                 {"redirect_uri", kRedirect},
                 {"response_type", "code"},
                 {"scope", "openid"},
                 {"state", "xyz"},
                 {"code_challenge", kChallenge},
                 {"code_challenge_method", "S256"},
                 {"user_id", "alice"},
                 {"auth_time", unix_now() - 600},
                 {"max_age", 300}};
  auto r = srv->post("/v1/oauth/authorizations", json::serialize(o));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_code(r), "login_required");
  auto to = str(obj(r), "redirect_to");
  EXPECT_TRUE(to.starts_with(kRedirect + "?error=login_required")) << to;
  EXPECT_NE(to.find("state=xyz"), std::string::npos);
  EXPECT_EQ(count("ac"), 0);
  o["max_age"] = 900;
  auto ok = srv->post("/v1/oauth/authorizations", json::serialize(o));
  EXPECT_EQ(ok.status, 201) << ok.body;
  o.erase("auth_time");
  auto without = srv->post("/v1/oauth/authorizations", json::serialize(o));
  EXPECT_EQ(without.status, 400);
  EXPECT_EQ(error_code(without), "invalid_request");
  EXPECT_EQ(count("ac"), 1);
}

TEST_F(OidcTest, HostileLoginInputIsRefusedAndChangesNothing) {
  auto c = oidc_client();
  const std::string base = R"({"client_id":")" + c.id + R"(","redirect_uri":")" + kRedirect +
                           R"(","response_type":"code","scope":"openid","code_challenge":")" + kChallenge +
                           R"(","code_challenge_method":"S256","user_id":"alice",)";
  const std::string future = std::to_string(unix_now() + 3600);
  const std::vector<std::string> cases = {
      R"("nonce":7})",
      R"("nonce":""})",
      R"("nonce":")" + std::string(513, 'n') + R"("})",
      R"("nonce":"a\nb"})",
      R"("auth_time":"yesterday"})",
      R"("auth_time":1.5})",
      R"("auth_time":)" + future + "}",
      R"("auth_time":-4})",
      R"("auth_time":99999999999999999999})",
      R"("max_age":-1,"auth_time":1700000000})",
      R"("max_age":"60"})",
      R"("acr":["a"]})",
      R"("acr":")" + std::string(300, 'a') + R"("})",
      R"("amr":"pwd"})",
      R"("amr":[1]})",
      R"("amr":[""]})",
      R"("amr":["a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a"]})",
      R"("claims":"email"})",
      R"("claims":[]})",
      R"("claims":{"sub":"mallory"}})",
      R"("claims":{"is_admin":true}})",
      R"("claims":{"email_verified":"yes"}})",
      R"("claims":{"email":42}})",
      R"("claims":{"updated_at":"now"}})",
      R"("claims":{"address":{"street_address":1}}})",
      R"("claims":{"name":"a\u0000b"}})",
      R"("claims":{"name":")" + std::string(1100, 'x') + R"("}})",
      R"("claims":{"name":")" + std::string(1000, 'x') + R"(","nickname":")" + std::string(1000, 'x') +
          R"(","given_name":")" + std::string(1000, 'x') + R"(","family_name":")" + std::string(1000, 'x') +
          R"(","middle_name":")" + std::string(1000, 'x') + R"("}})",
  };
  for (const auto& bad : cases) {
    auto r = srv->post("/v1/oauth/authorizations", base + bad);
    EXPECT_EQ(r.status, 400) << bad.substr(0, 80) << " " << r.body;
    EXPECT_EQ(error_code(r), "invalid_request") << bad.substr(0, 80);
    EXPECT_FALSE(obj(r).contains("redirect_to")) << "the backend's mistake is not sent to the client";
  }
  EXPECT_EQ(count("ac"), 0);
}

TEST_F(OidcTest, DiscoveryPublishesTheOpenidConfigurationUnderAnHttpsIssuer) {
  start([](Config& cfg) {
    cfg.token_issuer = "https://auth.example/";
    cfg.oauth_authorization_endpoint = "https://shop.example/authorize";
  });
  auto r = srv->get("/.well-known/openid-configuration", {{"Authorization", ""}, {"Host", "evil.example"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("evil.example"), std::string::npos);
  auto m = obj(r);
  EXPECT_EQ(str(m, "issuer"), "https://auth.example/");
  EXPECT_EQ(str(m, "authorization_endpoint"), "https://shop.example/authorize");
  EXPECT_EQ(str(m, "token_endpoint"), "https://auth.example/oauth2/token");
  EXPECT_EQ(str(m, "userinfo_endpoint"), "https://auth.example/oauth2/userinfo");
  EXPECT_EQ(str(m, "jwks_uri"), "https://auth.example/.well-known/jwks.json");
  EXPECT_EQ(json::serialize(m.at("id_token_signing_alg_values_supported")), R"(["EdDSA"])");
  EXPECT_EQ(json::serialize(m.at("subject_types_supported")), R"(["public"])");
  EXPECT_TRUE(m.at("backchannel_logout_supported").as_bool());
  EXPECT_TRUE(m.at("backchannel_logout_session_supported").as_bool());
  EXPECT_EQ(json::serialize(m.at("response_types_supported")), R"(["code"])");
  EXPECT_EQ(json::serialize(m.at("dpop_signing_alg_values_supported")), R"(["ES256","EdDSA","Ed25519","RS256"])");
  for (const char* s : {"openid", "profile", "email"})
    EXPECT_NE(json::serialize(m.at("scopes_supported")).find(s), std::string::npos) << s;
  // The RFC 8414 document says the same.
  auto oauth = obj(srv->get("/.well-known/oauth-authorization-server", {{"Authorization", ""}}));
  EXPECT_EQ(oauth.at("userinfo_endpoint"), m.at("userinfo_endpoint"));
  // Not under an issuer that is not an https URL.
  start();
  auto none = srv->get("/.well-known/openid-configuration", {{"Authorization", ""}});
  EXPECT_EQ(none.status, 404);
}

TEST_F(OidcTest, AnHs256RingCannotSignIdTokensSoOpenidIsRefused) {
  srv.reset();
  srv = std::make_unique<TestServer>(
      rs, [](Config& c) { c.token_issuer = "https://auth.example"; }, std::nullopt,
      test_secrets(std::nullopt, crypto::jws::Alg::HS256));
  auto c = oidc_client();
  json::object o{
      {"client_id", c.id}, {"redirect_uri", kRedirect},    {"response_type", "code"},         {"scope", "openid"},
      {"state", "s"},      {"code_challenge", kChallenge}, {"code_challenge_method", "S256"}, {"user_id", "alice"}};
  auto r = srv->post("/v1/oauth/authorizations", json::serialize(o));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_code(r), "invalid_scope");
  EXPECT_EQ(count("ac"), 0);
  auto d = obj(srv->get("/.well-known/openid-configuration", {{"Authorization", ""}}));
  EXPECT_TRUE(d.at("id_token_signing_alg_values_supported").as_array().empty());
}

TEST_F(OidcTest, RedisDownMeansNoIdTokenAnd503) {
  auto c = oidc_client();
  auto code = code_for(c.id, login_fields());
  auto t = obj(redeem(c, code_for(c.id, login_fields())));
  rs.kill();
  auto r = redeem(c, code);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.body.find("id_token"), std::string::npos);
  auto rr = refresh(c, str(t, "refresh_token"));
  EXPECT_EQ(rr.status, 503) << rr.body;
  EXPECT_EQ(rr.body.find("id_token"), std::string::npos);
  auto u = srv->get("/oauth2/userinfo", {{"Authorization", "Bearer " + str(t, "access_token")}});
  EXPECT_EQ(u.status, 503) << u.body;
  rs.start();
}
