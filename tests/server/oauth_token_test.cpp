// The RFC endpoints of the OAuth server over real HTTP against a real Redis: the token
// endpoint's three grants (RFC 6749 4.1.3, 4.4, 6 + RFC 7636), every error of RFC 6749 5.2
// with "no token was issued" checked in Redis, code replay revoking what the code issued
// (RFC 9700 4.5 / RFC 6749 10.5), introspection (RFC 7662), revocation (RFC 7009), metadata
// (RFC 8414), concurrency with parallel clients, and Redis outages.
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/oauth.hpp"

#include "support/test_server.hpp"
#include "support/oauth_support.hpp"
#include "support/process.hpp"

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

using namespace latchkey;
using namespace latchkey::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// The fixture and its helpers: support/oauth_support.hpp (shared with the OpenID Connect and
// DPoP tests).
class OAuthTokenTest : public OAuthHttpTest {};

}  // namespace

// --- the flows -------------------------------------------------------------------------------

TEST_F(OAuthTokenTest, CodeFlowWithPkceRefreshIntrospectAndRevoke) {
  auto c = confidential();
  auto code = code_for(c.id);
  auto r = redeem(c, code);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-store");
  EXPECT_EQ(r.header("pragma"), "no-cache");
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto t = obj(r);
  EXPECT_EQ(str(t, "token_type"), "Bearer");
  EXPECT_EQ(t.at("expires_in").as_int64(), 900);
  EXPECT_EQ(str(t, "scope"), "read");
  std::string access = str(t, "access_token"), rt = str(t, "refresh_token");
  EXPECT_EQ(access.size(), 47u) << "opaque handle by default";
  EXPECT_EQ(rt.size(), 47u);

  auto i = introspect(c, access);
  ASSERT_EQ(i.status, 200) << i.body;
  auto ij = obj(i);
  EXPECT_TRUE(ij.at("active").as_bool());
  EXPECT_EQ(str(ij, "sub"), "alice");
  EXPECT_EQ(str(ij, "client_id"), c.id);
  EXPECT_EQ(str(ij, "scope"), "read");
  EXPECT_EQ(str(ij, "token_type"), "Bearer");
  EXPECT_EQ(str(ij, "iss"), "latchkey");
  EXPECT_EQ(ij.at("exp").as_int64() - ij.at("iat").as_int64(), 900);

  // Nothing secret in clear in Redis: tokens and the user id.
  std::string dump = rs.dump_all(true);
  for (const auto& s : {access, rt, code, std::string("alice"), c.secret})
    EXPECT_EQ(dump.find(s), std::string::npos) << s;

  // Refresh rotates; the old refresh token is spent.
  auto r2 = refresh(c, rt);
  ASSERT_EQ(r2.status, 200) << r2.body;
  auto t2 = obj(r2);
  EXPECT_NE(str(t2, "refresh_token"), rt);
  EXPECT_EQ(str(t2, "scope"), "read");
  EXPECT_TRUE(active(c, str(t2, "access_token")));

  // The admin list shows the grant's family with its client and scope, and no token.
  auto fl = srv->get("/v1/users/alice/tokens");
  ASSERT_EQ(fl.status, 200) << fl.body;
  const auto fams = json_of(fl).at("families").as_array();
  ASSERT_EQ(fams.size(), 1u) << fl.body;
  EXPECT_EQ(fams[0].at("client_id").as_string(), c.id);
  EXPECT_EQ(fams[0].at("scope").as_string(), "read");
  for (const auto& s : {rt, str(t2, "refresh_token"), str(t2, "access_token")})
    EXPECT_EQ(fl.body.find(s), std::string::npos);

  // Revoking the refresh token revokes its family's access tokens (RFC 7009 2.1).
  auto rv = form("/oauth2/revoke", "token=" + str(t2, "refresh_token") + "&token_type_hint=refresh_token", c);
  EXPECT_EQ(rv.status, 200) << rv.body;
  EXPECT_FALSE(active(c, str(t2, "access_token")));
  EXPECT_FALSE(active(c, access));
  EXPECT_EQ(error_code(refresh(c, str(t2, "refresh_token"))), "invalid_grant");
}

TEST_F(OAuthTokenTest, PublicClientFlowWithClientIdInTheBody) {
  auto p = public_client();
  auto code = code_for(p.id, R"({"redirect_uri":"https://app.example/cb"})");
  auto r = form("/oauth2/token", "grant_type=authorization_code&client_id=" + p.id + "&code=" + code +
                                     "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=" + kVerifier);
  ASSERT_EQ(r.status, 200) << r.body;
  auto t = obj(r);
  ASSERT_FALSE(str(t, "refresh_token").empty());
  auto r2 =
      form("/oauth2/token", "grant_type=refresh_token&client_id=" + p.id + "&refresh_token=" + str(t, "refresh_token"));
  EXPECT_EQ(r2.status, 200) << r2.body;
  // A public client cannot introspect (it cannot prove who it is) but can revoke its tokens.
  auto i = form("/oauth2/introspect", "client_id=" + p.id + "&token=" + str(obj(r2), "access_token"));
  EXPECT_EQ(i.status, 401);
  EXPECT_EQ(error_code(i), "invalid_client");
  auto rv = form("/oauth2/revoke", "client_id=" + p.id + "&token=" + str(obj(r2), "refresh_token"));
  EXPECT_EQ(rv.status, 200);
  auto c = confidential();
  EXPECT_FALSE(active(c, str(obj(r2), "access_token")));
}

TEST_F(OAuthTokenTest, ClientCredentialsGrant) {
  auto c = confidential();
  auto r = form("/oauth2/token", "grant_type=client_credentials", c);
  ASSERT_EQ(r.status, 200) << r.body;
  auto t = obj(r);
  EXPECT_FALSE(t.contains("refresh_token")) << "RFC 6749 4.4.3";
  EXPECT_EQ(str(t, "scope"), "read write") << "default: the client's scope";
  auto ij = obj(introspect(c, str(t, "access_token")));
  EXPECT_TRUE(ij.at("active").as_bool());
  EXPECT_EQ(str(ij, "sub"), c.id) << "the client is its own subject";

  auto narrow = form("/oauth2/token", "grant_type=client_credentials&scope=write", c);
  ASSERT_EQ(narrow.status, 200);
  EXPECT_EQ(str(obj(narrow), "scope"), "write");
  // client_secret_post works for a client registered for it, and only for it.
  auto post = confidential(R"("client_credentials")", "client_secret_post");
  EXPECT_EQ(
      form("/oauth2/token", "grant_type=client_credentials&client_id=" + post.id + "&client_secret=" + post.secret)
          .status,
      200);
  EXPECT_EQ(form("/oauth2/token", "grant_type=client_credentials", post).status, 401);
}

// oauth_client_cache_ttl: an I/O thread authenticates a client it read within the TTL from
// its copy. A record gone from Redis (another node deleted it) keeps authenticating there
// until the copy expires; a deletion through this node ends it at once, on every thread.
TEST_F(OAuthTokenTest, ClientRecordsAreCachedPerThreadAndADeletionHereEndsThemAtOnce) {
  start([](Config& cfg) {
    cfg.threads = 1;  // one shard: every request meets the same cache
    cfg.oauth_client_cache_ttl = std::chrono::seconds(60);
  });
  auto c = confidential(), caller = confidential(R"("client_credentials")");
  auto first = obj(form("/oauth2/token", "grant_type=client_credentials", c));
  ASSERT_TRUE(active(caller, str(first, "access_token")));
  auto wrong = c;
  wrong.secret += "x";
  EXPECT_EQ(form("/oauth2/token", "grant_type=client_credentials", wrong).status, 401) << "the secret is still checked";

  // Both records leave Redis behind this node's back: the copies still authenticate.
  rs.command({"RENAME", "lk:oc:" + c.id, "lk:test:c"});
  rs.command({"RENAME", "lk:oc:" + caller.id, "lk:test:caller"});
  auto cached = form("/oauth2/token", "grant_type=client_credentials", c);
  ASSERT_EQ(cached.status, 200) << cached.body;
  EXPECT_EQ(form("/oauth2/token", "grant_type=client_credentials", wrong).status, 401);
  EXPECT_EQ(introspect(caller, str(obj(cached), "access_token")).status, 200) << "the caller's copy";

  // A deletion through this node (here of the caller, whose record is back) drops every copy.
  rs.command({"RENAME", "lk:test:caller", "lk:oc:" + caller.id});
  ASSERT_EQ(srv->del("/v1/oauth/clients/" + caller.id).status, 204);
  EXPECT_EQ(introspect(caller, str(first, "access_token")).status, 401);
  EXPECT_EQ(form("/oauth2/token", "grant_type=client_credentials", c).status, 401) << "c's copy went too";
  rs.command({"RENAME", "lk:test:c", "lk:oc:" + c.id});
  EXPECT_EQ(form("/oauth2/token", "grant_type=client_credentials", c).status, 200);
}

TEST_F(OAuthTokenTest, ClientCacheCopiesExpireAndTtlZeroKeepsNone) {
  start([](Config& cfg) {
    cfg.threads = 1;
    cfg.oauth_client_cache_ttl = std::chrono::seconds(1);
  });
  auto c = confidential();
  ASSERT_EQ(form("/oauth2/token", "grant_type=client_credentials", c).status, 200);
  rs.command({"RENAME", "lk:oc:" + c.id, "lk:test:c"});
  EXPECT_EQ(form("/oauth2/token", "grant_type=client_credentials", c).status, 200);
  std::this_thread::sleep_for(1100ms);  // past the copy's deadline
  EXPECT_EQ(form("/oauth2/token", "grant_type=client_credentials", c).status, 401);

  start([](Config& cfg) {
    cfg.threads = 1;
    cfg.oauth_client_cache_ttl = std::chrono::seconds(0);
  });
  rs.command({"RENAME", "lk:test:c", "lk:oc:" + c.id});
  ASSERT_EQ(form("/oauth2/token", "grant_type=client_credentials", c).status, 200);
  rs.command({"RENAME", "lk:oc:" + c.id, "lk:test:c"});
  EXPECT_EQ(form("/oauth2/token", "grant_type=client_credentials", c).status, 401);
}

TEST_F(OAuthTokenTest, CodeWithoutRefreshGrantGetsNoRefreshToken) {
  auto c = confidential(R"("authorization_code")");
  auto r = redeem(c, code_for(c.id));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(obj(r).contains("refresh_token"));
  EXPECT_EQ(count("rf"), 0);
}

TEST_F(OAuthTokenTest, RefreshMayNarrowTheScopeButNeverWiden) {
  auto c = confidential();
  auto t = obj(redeem(c, code_for(c.id, R"({"scope":"read write"})")));
  auto narrow = refresh(c, str(t, "refresh_token"), "&scope=read");
  ASSERT_EQ(narrow.status, 200) << narrow.body;
  EXPECT_EQ(str(obj(narrow), "scope"), "read");
  EXPECT_EQ(str(obj(introspect(c, str(obj(narrow), "access_token"))), "scope"), "read");
  // The grant keeps its scope: the next refresh may ask for all of it again.
  auto again = refresh(c, str(obj(narrow), "refresh_token"), "&scope=read%20write");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(str(obj(again), "scope"), "read write");
  std::string live = str(obj(again), "refresh_token");
  auto wide = refresh(c, live, "&scope=read%20admin");
  EXPECT_EQ(wide.status, 400);
  EXPECT_EQ(error_code(wide), "invalid_scope");
  EXPECT_EQ(refresh(c, live).status, 200) << "a refused widening changes nothing";
}

TEST_F(OAuthTokenTest, RefreshTokensAreBoundToTheirClient) {
  auto a = confidential(), b = confidential();
  auto t = obj(redeem(a, code_for(a.id)));
  std::string rt = str(t, "refresh_token");
  auto r = refresh(b, rt);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "invalid_grant");
  EXPECT_EQ(refresh(a, rt).status, 200) << "another client's attempt changed nothing";
  // Refresh tokens of /v1/tokens and of OAuth clients do not cross over.
  auto v1 = json_of(srv->post("/v1/tokens", R"({"user_id":"alice"})")).as_object();
  EXPECT_EQ(error_code(refresh(a, str(v1, "refresh_token"))), "invalid_grant");
  auto t2 = obj(redeem(a, code_for(a.id)));
  auto cross = srv->post("/v1/tokens/refresh", R"({"refresh_token":")" + str(t2, "refresh_token") + R"("})");
  EXPECT_EQ(cross.status, 401);
  EXPECT_EQ(refresh(a, str(t2, "refresh_token")).status, 200);
}

TEST_F(OAuthTokenTest, RefreshReuseRevokesTheFamily) {
  start([](Config& c) { c.token_refresh_grace = std::chrono::seconds(0); });
  auto c = confidential();
  auto t = obj(redeem(c, code_for(c.id)));
  std::string rt1 = str(t, "refresh_token");
  auto t2 = obj(refresh(c, rt1));
  ASSERT_FALSE(str(t2, "refresh_token").empty());
  EXPECT_EQ(error_code(refresh(c, rt1)), "invalid_grant") << "reuse";
  EXPECT_EQ(error_code(refresh(c, str(t2, "refresh_token"))), "invalid_grant")
      << "RFC 9700 4.14.2: the live one dies too";
  EXPECT_FALSE(active(c, str(t2, "access_token")));
}

// --- code replay -------------------------------------------------------------------------------

TEST_F(OAuthTokenTest, ReplayedCodeIsRefusedAndRevokesWhatItIssued) {
  for (std::string format : {"opaque", "jwt"}) {
    start([&](Config& cfg) { cfg.oauth_access_token_format = format; });
    auto c = confidential();
    auto code = code_for(c.id);
    auto first = obj(redeem(c, code));
    ASSERT_TRUE(active(c, str(first, "access_token"))) << format;
    auto again = redeem(c, code);
    EXPECT_EQ(again.status, 400) << format;
    EXPECT_EQ(error_code(again), "invalid_grant");
    EXPECT_FALSE(obj(again).contains("access_token"));
    EXPECT_FALSE(active(c, str(first, "access_token"))) << format << ": the replay revoked the access token";
    EXPECT_EQ(error_code(refresh(c, str(first, "refresh_token"))), "invalid_grant") << format;
    // Recorded as a security event, with the client and the family it revoked (never the code).
    auto replay = event_of(*srv, "code_replay");
    EXPECT_EQ(str(replay, "client_id"), c.id);
    EXPECT_EQ(str(replay, "outcome"), "family_revoked");
    EXPECT_FALSE(str(replay, "family").empty());
    EXPECT_EQ(json::serialize(replay).find(code), std::string::npos);
  }
}

TEST_F(OAuthTokenTest, ClientLifecycleAndFailedClientAuthenticationAreEvents) {
  auto c = confidential();
  EXPECT_EQ(str(event_of(*srv, "client_created"), "client_id"), c.id);
  auto wrong = form("/oauth2/token", "grant_type=client_credentials", ClientCreds{c.id, "not-the-secret"});
  EXPECT_EQ(wrong.status, 401);
  auto failed = event_of(*srv, "oauth_client_auth_failure");
  EXPECT_EQ(str(failed, "client_id"), c.id);
  EXPECT_EQ(str(failed, "route"), "/oauth2/token");
  EXPECT_EQ(json::serialize(failed).find("not-the-secret"), std::string::npos);
  auto t = obj(form("/oauth2/token", "grant_type=client_credentials", c));
  ASSERT_EQ(form("/oauth2/revoke", "token=" + form_escape(str(t, "access_token")), c).status, 200);
  EXPECT_EQ(str(event_of(*srv, "token_revoked"), "client_id"), c.id);
  ASSERT_EQ(srv->del("/v1/oauth/clients/" + c.id).status, 204);
  EXPECT_EQ(str(event_of(*srv, "client_deleted"), "client_id"), c.id);
  auto dump = rs.dump_all(true);
  EXPECT_EQ(dump.find(c.secret), std::string::npos);
}

// --- every error of RFC 6749 5.2, and that none of them issued anything ------------------------------

TEST_F(OAuthTokenTest, TokenEndpointErrorsIssueNothing) {
  auto c = confidential(), other = confidential();
  auto p = public_client();
  auto cc_only = confidential(R"("client_credentials")");
  std::string code = code_for(c.id);
  struct Case {
    const char* name;
    HttpResult r;
    unsigned status;
    std::string error;
  };
  std::string base = "grant_type=authorization_code&code=" + code + "&redirect_uri=" + form_escape(kRedirect);
  std::vector<Case> cases;
  auto add = [&](const char* name, HttpResult r, unsigned status, std::string error) {
    cases.push_back({name, std::move(r), status, std::move(error)});
  };
  add("wrong redirect URI", redeem(c, code, kVerifier, "https://shop.example/cb2"), 400, "invalid_grant");
  add("other registered redirect URI", redeem(c, code, kVerifier, "http://127.0.0.1/native"), 400, "invalid_grant");
  add("no redirect URI although sent", redeem(c, code, kVerifier, ""), 400, "invalid_grant");
  add("code of another client", redeem(other, code), 400, "invalid_grant");
  add("wrong verifier", redeem(c, code, std::string(43, 'a')), 400, "invalid_grant");
  add("missing verifier", redeem(c, code, ""), 400, "invalid_grant");
  add("malformed verifier", redeem(c, code, "short"), 400, "invalid_request");
  add("unknown code", redeem(c, "x" + code.substr(1)), 400, "invalid_grant");
  add("password grant", form("/oauth2/token", "grant_type=password&username=a&password=b", c), 400,
      "unsupported_grant_type");
  add("implicit", form("/oauth2/token", "grant_type=implicit", c), 400, "unsupported_grant_type");
  add("unknown grant", form("/oauth2/token", "grant_type=urn:x", c), 400, "unsupported_grant_type");
  add("grant not registered", form("/oauth2/token", base, cc_only), 400, "unauthorized_client");
  add("client_credentials scope widening", form("/oauth2/token", "grant_type=client_credentials&scope=admin", c), 400,
      "invalid_scope");
  add("malformed scope", form("/oauth2/token", "grant_type=client_credentials&scope=a%20%20b", c), 400,
      "invalid_scope");
  add("bad client secret", redeem(ClientCreds{c.id, "wrong"}, code), 401, "invalid_client");
  add("unknown client", redeem(ClientCreds{"AAAAAAAAAAAAAAAAAAAAAA", "x"}, code), 401, "invalid_client");
  add("no client authentication", form("/oauth2/token", base + "&code_verifier=" + kVerifier), 401, "invalid_client");
  add("secret in the body of a basic client",
      form("/oauth2/token", base + "&code_verifier=" + kVerifier + "&client_id=" + c.id + "&client_secret=" + c.secret),
      401, "invalid_client");
  add("public client presenting a secret",
      form("/oauth2/token", "grant_type=refresh_token&refresh_token=x", ClientCreds{p.id, "s"}), 401, "invalid_client");
  add("two authentication methods", form("/oauth2/token", base + "&client_secret=" + c.secret, c), 400,
      "invalid_request");
  add("not Basic", form("/oauth2/token", base, std::nullopt, {{"Authorization", "Bearer " + c.secret}}), 401,
      "invalid_client");
  add("missing grant_type", form("/oauth2/token", "code=" + code, c), 400, "invalid_request");
  add("missing code", form("/oauth2/token", "grant_type=authorization_code", c), 400, "invalid_request");
  add("missing refresh_token", form("/oauth2/token", "grant_type=refresh_token", c), 400, "invalid_request");
  add("repeated parameter", form("/oauth2/token", base + "&code=" + code, c), 400, "invalid_request");
  add("malformed escape", form("/oauth2/token", "grant_type=client%ZZ", c), 400, "invalid_request");
  add("JSON body",
      form("/oauth2/token", R"({"grant_type":"client_credentials"})", c, {{"Content-Type", "application/json"}}), 400,
      "invalid_request");
  add("parameters in the URL", form("/oauth2/token?grant_type=client_credentials", "grant_type=client_credentials", c),
      400, "invalid_request");
  add("oversize body", form("/oauth2/token", "grant_type=client_credentials&x=" + std::string(70000, 'a'), c), 413,
      "payload_too_large");
  for (const auto& k : cases) {
    EXPECT_EQ(k.r.status, k.status) << k.name << ": " << k.r.body;
    EXPECT_EQ(error_code(k.r), k.error) << k.name;
    EXPECT_FALSE(obj(k.r).contains("access_token")) << k.name;
    if (k.status != 413) {
      EXPECT_EQ(k.r.header("cache-control"), "no-store") << k.name;
      EXPECT_EQ(k.r.header("pragma"), "no-cache") << k.name;
    }
    if (k.status == 401) {
      EXPECT_EQ(k.r.header("www-authenticate"), "Basic realm=\"latchkey\"") << k.name;
    }
  }
  EXPECT_EQ(count("ta"), 0) << "no access token was issued";
  EXPECT_EQ(count("rf"), 0) << "no refresh family was started";
  EXPECT_EQ(http_request(srv->port(), "GET", "/oauth2/token").status, 405);
  // None of the refusals spent the code.
  EXPECT_EQ(redeem(c, code).status, 200);
}

TEST_F(OAuthTokenTest, PkceDowngradeBothWaysIsRefused) {
  start([](Config& cfg) { cfg.oauth_require_pkce = false; });
  auto c = confidential();
  auto plain = code_for(c.id, R"({"code_challenge":null,"code_challenge_method":null})");
  auto r = redeem(c, plain, kVerifier);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "invalid_grant") << "verifier for a code issued without a challenge (RFC 9700 4.8.2)";
  EXPECT_EQ(redeem(c, plain, "").status, 200) << "without PKCE on both sides it works";
  auto pkce = code_for(c.id);
  EXPECT_EQ(error_code(redeem(c, pkce, "")), "invalid_grant");
  EXPECT_EQ(redeem(c, pkce).status, 200);
}

TEST_F(OAuthTokenTest, ExpiredCodeIsInvalidGrant) {
  start([](Config& cfg) { cfg.oauth_code_ttl = std::chrono::seconds(1); });
  auto c = confidential();
  auto code = code_for(c.id);
  std::this_thread::sleep_for(2100ms);
  auto r = redeem(c, code);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "invalid_grant");
  EXPECT_EQ(count("ta"), 0);
}

TEST_F(OAuthTokenTest, OmittedRedirectUriMayBeOmittedAgain) {
  auto c = register_client(R"({"redirect_uris":["https://one.example/cb"],"grant_types":["authorization_code"]})");
  auto code = code_for(c.id, R"({"redirect_uri":null,"scope":null})");
  EXPECT_EQ(redeem(c, code, kVerifier, "").status, 200);
  auto code2 = code_for(c.id, R"({"redirect_uri":null,"scope":null})");
  EXPECT_EQ(redeem(c, code2, kVerifier, "https://one.example/cb").status, 200) << "or repeated as registered";
}

// --- introspection and revocation --------------------------------------------------------------

TEST_F(OAuthTokenTest, IntrospectionAnswersExactlyActiveFalseForAnythingNotActive) {
  auto c = confidential();
  auto t = obj(redeem(c, code_for(c.id)));
  std::string access = str(t, "access_token");
  const std::string inactive[] = {"garbage",
                                  std::string(5000, 'a'),
                                  "x" + access.substr(1),
                                  str(t, "refresh_token"),
                                  "a.b.c",
                                  "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."};
  for (const auto& tok : inactive) {
    auto r = introspect(c, tok);
    EXPECT_EQ(r.status, 200) << tok;
    EXPECT_EQ(r.body, R"({"active":false})") << tok;
    EXPECT_EQ(r.header("content-type"), "application/json");
  }
  // The caller must authenticate (RFC 7662 2.1).
  auto anon = form("/oauth2/introspect", "token=" + access);
  EXPECT_EQ(anon.status, 401);
  EXPECT_EQ(error_code(anon), "invalid_client");
  EXPECT_EQ(introspect(ClientCreds{c.id, "wrong"}, access).status, 401);
  auto missing = form("/oauth2/introspect", "", c);
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(error_code(missing), "invalid_request");
  // A resource server (another confidential client) may introspect.
  auto rs_client = confidential(R"("client_credentials")");
  EXPECT_TRUE(active(rs_client, access));
  // Revoked: inactive at once (RFC 7662 4).
  EXPECT_EQ(form("/oauth2/revoke", "token=" + access, c).status, 200);
  EXPECT_EQ(introspect(c, access).body, R"({"active":false})");
}

TEST_F(OAuthTokenTest, ExpiredAccessTokenIsInactive) {
  start([](Config& cfg) { cfg.token_access_ttl = std::chrono::seconds(10); });
  auto c = confidential();
  auto t = obj(form("/oauth2/token", "grant_type=client_credentials", c));
  ASSERT_TRUE(active(c, str(t, "access_token")));
  // Move the record's stored expiry into the past: the stored deadline decides, not only the TTL.
  std::string key = rs.command({"EVAL", "return redis.call('KEYS', 'lk:ta:*')[1]", "0"});
  rs.command({"HSET", key, "e", "1"});
  EXPECT_FALSE(active(c, str(t, "access_token")));
}

TEST_F(OAuthTokenTest, DeletingAClientRevokesItsTokens) {
  auto c = confidential(), rs_client = confidential(R"("client_credentials")");
  auto t = obj(redeem(c, code_for(c.id)));
  auto cc = obj(form("/oauth2/token", "grant_type=client_credentials", c));
  ASSERT_TRUE(active(rs_client, str(t, "access_token")));
  ASSERT_EQ(srv->del("/v1/oauth/clients/" + c.id).status, 204);
  EXPECT_FALSE(active(rs_client, str(t, "access_token")));
  EXPECT_FALSE(active(rs_client, str(cc, "access_token")));
  EXPECT_EQ(refresh(c, str(t, "refresh_token")).status, 401) << "the client cannot authenticate any more";
}

TEST_F(OAuthTokenTest, RevocationIsBoundToTheClientAndAlwaysOk) {
  auto a = confidential(), b = confidential();
  auto t = obj(redeem(a, code_for(a.id)));
  // Unknown tokens: 200 (RFC 7009 2.2).
  EXPECT_EQ(form("/oauth2/revoke", "token=nonsense", a).status, 200);
  // Another client's tokens: 200 and nothing happens (our policy: no oracle, no effect).
  EXPECT_EQ(form("/oauth2/revoke", "token=" + str(t, "access_token"), b).status, 200);
  EXPECT_EQ(form("/oauth2/revoke", "token=" + str(t, "refresh_token"), b).status, 200);
  EXPECT_TRUE(active(a, str(t, "access_token")));
  EXPECT_EQ(refresh(a, str(t, "refresh_token")).status, 200);
  // Authentication is required, and the token parameter.
  EXPECT_EQ(form("/oauth2/revoke", "token=" + str(t, "access_token")).status, 401);
  EXPECT_EQ(form("/oauth2/revoke", "token_type_hint=access_token", a).status, 400);
  auto ok = form("/oauth2/revoke", "token=" + str(t, "access_token") + "&token_type_hint=refresh_token", a);
  EXPECT_EQ(ok.status, 200) << "a wrong hint does not matter";
  EXPECT_FALSE(active(a, str(t, "access_token")));
}

TEST_F(OAuthTokenTest, UserRevokeAllCoversOAuthTokens) {
  auto c = confidential();
  auto t = obj(redeem(c, code_for(c.id)));
  ASSERT_EQ(srv->del("/v1/users/alice/tokens").status, 200);
  EXPECT_FALSE(active(c, str(t, "access_token")));
  EXPECT_EQ(error_code(refresh(c, str(t, "refresh_token"))), "invalid_grant");
}

TEST_F(OAuthTokenTest, JwtAccessTokensPerRfc9068) {
  start([](Config& cfg) {
    cfg.oauth_access_token_format = "jwt";
    cfg.oauth_access_token_audience = "https://api.example";
  });
  auto c = confidential();
  auto t = obj(redeem(c, code_for(c.id)));
  std::string jwt = str(t, "access_token");
  ASSERT_EQ(std::count(jwt.begin(), jwt.end(), '.'), 2) << jwt;
  auto header = json::parse(*crypto::base64url_decode(jwt.substr(0, jwt.find('.')))).as_object();
  EXPECT_EQ(str(header, "typ"), "at+jwt");
  auto payload_b64 = jwt.substr(jwt.find('.') + 1, jwt.rfind('.') - jwt.find('.') - 1);
  auto claims = json::parse(*crypto::base64url_decode(payload_b64)).as_object();
  EXPECT_EQ(str(claims, "client_id"), c.id);
  EXPECT_EQ(str(claims, "sub"), "alice");
  EXPECT_EQ(str(claims, "aud"), "https://api.example");
  EXPECT_EQ(str(claims, "scope"), "read");
  auto ij = obj(introspect(c, jwt));
  EXPECT_TRUE(ij.at("active").as_bool());
  EXPECT_EQ(str(ij, "client_id"), c.id);
  EXPECT_EQ(str(ij, "aud"), "https://api.example");
  EXPECT_FALSE(str(ij, "jti").empty());
  // Resource servers may also verify it through latchkey's verify endpoint (with its audience),
  // when they accept OAuth tokens there.
  auto v = srv->post("/v1/tokens/verify",
                     R"({"token":")" + jwt + R"(","audience":"https://api.example","accept_oauth":true})");
  EXPECT_EQ(v.status, 200) << v.body;
  auto cc = obj(form("/oauth2/token", "grant_type=client_credentials", c));
  EXPECT_EQ(str(obj(introspect(c, str(cc, "access_token"))), "sub"), c.id);
  EXPECT_EQ(form("/oauth2/revoke", "token=" + jwt, c).status, 200);
  EXPECT_EQ(introspect(c, jwt).body, R"({"active":false})");
}

TEST_F(OAuthTokenTest, Metadata) {
  start([](Config& cfg) {
    cfg.token_issuer = "https://auth.example/";
    cfg.oauth_authorization_endpoint = "https://shop.example/authorize";
  });
  auto r = srv->get("/.well-known/oauth-authorization-server", {{"Authorization", ""}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto m = obj(r);
  EXPECT_EQ(str(m, "issuer"), "https://auth.example/");
  EXPECT_EQ(str(m, "token_endpoint"), "https://auth.example/oauth2/token");
  EXPECT_EQ(str(m, "introspection_endpoint"), "https://auth.example/oauth2/introspect");
  EXPECT_EQ(str(m, "revocation_endpoint"), "https://auth.example/oauth2/revoke");
  EXPECT_EQ(str(m, "jwks_uri"), "https://auth.example/.well-known/jwks.json");
  EXPECT_EQ(str(m, "authorization_endpoint"), "https://shop.example/authorize");
  EXPECT_EQ(json::serialize(m.at("code_challenge_methods_supported")), R"(["S256"])");
  EXPECT_EQ(json::serialize(m.at("grant_types_supported")),
            R"(["authorization_code","refresh_token","client_credentials"])");
  EXPECT_EQ(json::serialize(m.at("response_types_supported")), R"(["code"])");
  EXPECT_TRUE(m.at("token_endpoint_auth_methods_supported").as_array().size() == 3);
  // Hardening 5: a hostile Host changes nothing.
  auto evil = srv->get("/.well-known/oauth-authorization-server", {{"Authorization", ""}, {"Host", "evil.example"}});
  EXPECT_EQ(evil.body, r.body);
}

// Hardening 5: metadata once hung its endpoints off the request's Host under the default
// issuer, cached publicly for 300 s: a shared cache could be poisoned to send codes elsewhere.
TEST_F(OAuthTokenTest, Hardening05MetadataIsNeverBuiltFromTheHostHeader) {
  auto r = srv->get("/.well-known/oauth-authorization-server", {{"Authorization", ""}, {"Host", "evil.example"}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.body.find("evil.example"), std::string::npos) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-store");
  EXPECT_NE(r.body.find("token_issuer"), std::string::npos) << "says what to set";
  EXPECT_TRUE(oauth::publishable_issuer("https://auth.example"));
  EXPECT_TRUE(oauth::publishable_issuer("https://auth.example:8443/tenant/"));
  EXPECT_TRUE(oauth::publishable_issuer("http://127.0.0.1:8080"));
  EXPECT_TRUE(oauth::publishable_issuer("http://[::1]:8080"));
  EXPECT_TRUE(oauth::publishable_issuer("http://localhost"));
  for (const char* bad :
       {"latchkey", "http://auth.example", "https://", "https://a.example?x=1", "https://a.example/#f",
        "ftp://a.example", "https://user@a.example", "http://127.0.0.1.evil.example"})
    EXPECT_FALSE(oauth::publishable_issuer(bad)) << bad;
}

// --- concurrency with real parallel clients ---------------------------------------------------------

TEST_F(OAuthTokenTest, OfOneHundredConcurrentRedemptionsExactlyOneWins) {
  auto c = confidential();
  auto code = code_for(c.id);
  constexpr int kClients = 100;
  std::vector<std::future<HttpResult>> fs;
  std::promise<void> go;
  auto ready = go.get_future().share();
  for (int i = 0; i < kClients; ++i)
    fs.push_back(std::async(std::launch::async, [&, ready] {
      ready.wait();
      return redeem(c, code);
    }));
  go.set_value();
  int ok = 0, replay = 0;
  std::string winner;
  for (auto& f : fs) {
    auto r = f.get();
    if (r.status == 200) {
      ++ok;
      winner = str(obj(r), "access_token");
    } else {
      EXPECT_EQ(r.status, 400) << r.body;
      EXPECT_EQ(error_code(r), "invalid_grant");
      ++replay;
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(replay, kClients - 1);
  // The 99 replays revoked what the one winner got.
  EXPECT_FALSE(active(c, winner));
  EXPECT_EQ(count("rf"), 0);
}

TEST_F(OAuthTokenTest, ConcurrentRefreshesOfOneTokenNeverFork) {
  for (int grace : {10, 0}) {
    start([grace](Config& cfg) { cfg.token_refresh_grace = std::chrono::seconds(grace); });
    auto c = confidential();
    std::string rt = str(obj(redeem(c, code_for(c.id))), "refresh_token");
    constexpr int kClients = 20;
    std::vector<std::future<HttpResult>> fs;
    for (int i = 0; i < kClients; ++i) fs.push_back(std::async(std::launch::async, [&] { return refresh(c, rt); }));
    std::set<std::string> successors;
    int ok = 0;
    for (auto& f : fs) {
      auto r = f.get();
      ASSERT_TRUE(r.status == 200 || r.status == 400) << r.body;
      if (r.status == 200) {
        ++ok;
        successors.insert(str(obj(r), "refresh_token"));
      }
    }
    ASSERT_LE(successors.size(), 1u) << "grace " << grace << ": two different successors";
    int live = 0;
    for (const auto& s : successors) live += refresh(c, s).status == 200;
    if (grace > 0) {
      EXPECT_EQ(ok, kClients);
      EXPECT_EQ(live, 1);
    } else {
      EXPECT_EQ(ok, 1);
      EXPECT_EQ(live, 0) << "the 19 reuses revoked the family, the winner's successor included";
    }
  }
}

// --- Redis down ----------------------------------------------------------------------------------

TEST_F(OAuthTokenTest, RedisDownMeansUnavailableNeverATokenOrActive) {
  auto c = confidential();
  auto t = obj(redeem(c, code_for(c.id)));
  std::string code = code_for(c.id);
  rs.kill();
  const HttpResult results[] = {form("/oauth2/token", "grant_type=client_credentials", c), redeem(c, code),
                                refresh(c, str(t, "refresh_token")), introspect(c, str(t, "access_token")),
                                form("/oauth2/revoke", "token=" + str(t, "access_token"), c)};
  for (const auto& r : results) {
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_FALSE(r.header("retry-after").empty());
    EXPECT_EQ(r.body.find("access_token"), std::string::npos);
    EXPECT_EQ(r.body.find("\"active\":true"), std::string::npos);
  }
  rs.start();  // an empty Redis (no persistence in tests)
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    // Every shard's connection: /readyz answers for the shard that took the request.
    back = srv->get("/readyz").status == 200 && srv->server().redis_ready();
    if (!back) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(back) << "recovers without a restart";
  auto again = confidential();
  auto cc = form("/oauth2/token", "grant_type=client_credentials", again);
  ASSERT_EQ(cc.status, 200) << cc.body;
  EXPECT_TRUE(active(again, str(obj(cc), "access_token")));
}

// While Redis is frozen the endpoints answer 503 at the deadline.
TEST_F(OAuthTokenTest, FrozenRedisTimesOut) {
  auto c = confidential();
  auto t = obj(redeem(c, code_for(c.id)));
  rs.pause();
  auto r = introspect(c, str(t, "access_token"));
  rs.resume();
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.body.find("\"active\":true"), std::string::npos);
}

// oauth_ratelimit_policy throttles the RFC endpoints per client address (RFC 6819 4.4.1.12:
// a client guessing codes is slowed down; ASVS V11.1.4).
TEST_F(OAuthTokenTest, TheRfcEndpointsCanBeThrottled) {
  start([](Config& cfg) {
    cfg.ratelimit_policies = "oauth:fixed_window:4/60";
    cfg.oauth_ratelimit_policy = "oauth";
  });
  auto c = confidential();
  EXPECT_EQ(redeem(c, "guess-1").status, 400);
  EXPECT_EQ(redeem(c, "guess-2").status, 400);
  EXPECT_EQ(introspect(c, "x").status, 200);
  EXPECT_EQ(form("/oauth2/revoke", "token=x", c).status, 200);
  auto r = form("/oauth2/token", "grant_type=client_credentials", c);
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(error_code(r), "rate_limited");
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_EQ(r.header("cache-control"), "no-store");
  EXPECT_EQ(count("ta"), 0);
  EXPECT_EQ(introspect(c, "x").status, 429);
}

// Hardening 6: the OAuth throttle's counters live in their own namespace: a caller of
// /v1/ratelimit/check cannot exhaust (or reset) them with a key spelled like theirs.
TEST_F(OAuthTokenTest, Hardening06TheOAuthThrottleSharesNoCounterWithCallerKeys) {
  start([](Config& cfg) {
    cfg.ratelimit_policies = "oauth:fixed_window:2/60";
    cfg.oauth_ratelimit_policy = "oauth";
  });
  auto c = confidential();
  for (int i = 0; i < 5; ++i) srv->post("/v1/ratelimit/check", R"({"policy":"oauth","key":"oauth:127.0.0.1"})");
  EXPECT_EQ(srv->post("/v1/ratelimit/check", R"({"policy":"oauth","key":"oauth:127.0.0.1"})").status, 429);
  auto r = form("/oauth2/token", "grant_type=client_credentials", c);
  EXPECT_EQ(r.status, 200) << "the caller's key did not reach the throttle of 127.0.0.1: " << r.body;
}

// Hardening 10: a code issued before "revoke all tokens of a user" is dead too.
TEST_F(OAuthTokenTest, Hardening10CodesIssuedBeforeARevokeAllAreRefused) {
  auto c = confidential();
  auto code = code_for(c.id);
  ASSERT_EQ(srv->del("/v1/users/alice/tokens").status, 200);
  auto r = redeem(c, code);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_code(r), "invalid_grant");
  EXPECT_EQ(count("ta"), 0);
  EXPECT_EQ(redeem(c, code_for(c.id)).status, 200) << "codes issued after it work, in the same second too";
}

// Hardening 19 (second half): a spent code presented by another client is refused without
// revoking what the code issued to its own client.
TEST_F(OAuthTokenTest, Hardening19AnotherClientsReplayRevokesNothing) {
  auto a = confidential();
  auto b = confidential();
  auto code = code_for(a.id);
  auto t = obj(redeem(a, code));
  ASSERT_TRUE(active(a, str(t, "access_token")));
  auto r = redeem(b, code);
  EXPECT_EQ(error_code(r), "invalid_grant");
  EXPECT_TRUE(active(a, str(t, "access_token"))) << "b cannot revoke a's grant";
  EXPECT_EQ(refresh(a, str(t, "refresh_token")).status, 200);
  EXPECT_EQ(error_code(redeem(a, code)), "invalid_grant");
  EXPECT_FALSE(active(a, str(t, "access_token"))) << "a's own replay still revokes (RFC 6749 10.5)";
}

// Hardening 19 (first half): a retry inside the grace window gets the stored pair, and the
// scope reported is that pair's, not the retry's request.
TEST_F(OAuthTokenTest, Hardening19AGraceRetryReportsTheScopeOfThePairItReturns) {
  start([](Config& cfg) { cfg.token_refresh_grace = std::chrono::seconds(30); });
  auto c = confidential();
  auto t = obj(redeem(c, code_for(c.id, R"({"scope":"read write"})")));
  ASSERT_EQ(str(t, "scope"), "read write");
  auto first = obj(refresh(c, str(t, "refresh_token")));
  EXPECT_EQ(str(first, "scope"), "read write");
  auto retry = refresh(c, str(t, "refresh_token"), "&scope=read");
  ASSERT_EQ(retry.status, 200) << retry.body;
  auto rj = obj(retry);
  EXPECT_EQ(str(rj, "access_token"), str(first, "access_token")) << "the same pair";
  EXPECT_EQ(str(rj, "scope"), "read write") << "the pair's scope, as introspection shows it";
  EXPECT_EQ(str(obj(introspect(c, str(rj, "access_token"))), "scope"), str(rj, "scope"));
}

// Hardening 8: OAuth JWT access tokens are another population than first-party ones: the
// first-party verify endpoint refuses them unless asked, and deleting the client ends them
// there too.
TEST_F(OAuthTokenTest, Hardening08OAuthJwtsAreKeptApartAndDieWithTheirClient) {
  start([](Config& cfg) { cfg.oauth_access_token_format = "jwt"; });
  auto c = confidential();
  auto code_jwt = str(obj(redeem(c, code_for(c.id))), "access_token");
  auto cc_jwt = str(obj(form("/oauth2/token", "grant_type=client_credentials", c)), "access_token");
  auto verify = [&](const std::string& t, const std::string& extra) {
    return srv->post("/v1/tokens/verify", R"({"token":")" + t + "\"" + extra + "}");
  };
  for (const auto& t : {code_jwt, cc_jwt}) {
    auto r = verify(t, "");
    EXPECT_EQ(r.status, 401) << "a client_credentials sub (the client id) never passes for a user: " << r.body;
    EXPECT_EQ(error_code(r), "invalid_token");
    auto ok = verify(t, R"(,"accept_oauth":true)");
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(json_of(ok).at("claims").at("client_id").as_string(), c.id);
  }
  EXPECT_EQ(verify(cc_jwt, R"(,"accept_oauth":1)").status, 400);
  auto first_party = str(json_of(srv->post("/v1/tokens", R"({"user_id":"alice"})")).as_object(), "access_token");
  EXPECT_EQ(verify(first_party, "").status, 200);
  EXPECT_EQ(verify(first_party, R"(,"accept_oauth":true)").status, 200);
  ASSERT_EQ(srv->del("/v1/oauth/clients/" + c.id).status, 204);
  for (const auto& t : {code_jwt, cc_jwt})
    EXPECT_EQ(verify(t, R"(,"accept_oauth":true)").status, 401) << "client deleted";
}

// Hardening 12: one log line per failed client authentication let anyone fill the log (500
// requests, 500 lines). The line is throttled (10 a second) and every event is counted.
TEST_F(OAuthTokenTest, Hardening12FailedClientAuthenticationLogsAreThrottledAndCounted) {
  auto c = confidential();
  ClientCreds wrong{c.id, "not-the-secret"};
  auto start_time = std::chrono::steady_clock::now();
  for (int i = 0; i < 500; ++i) ASSERT_EQ(form("/oauth2/token", "grant_type=client_credentials", wrong).status, 401);
  auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start_time).count();
  auto metrics = srv->get("/metrics").body;
  auto value = [&](const std::string& series) {
    auto at = metrics.find(series);
    return at == std::string::npos ? -1 : std::stoll(metrics.substr(at + series.size() + 1));
  };
  EXPECT_EQ(value("latchkey_log_events_total{event=\"oauth_client_auth_failure\"}"), 500) << metrics;
  auto suppressed = value("latchkey_log_suppressed_total{event=\"oauth_client_auth_failure\"}");
  EXPECT_GE(suppressed, 500 - 10 * (seconds + 2)) << "at most 10 lines per second were written";
  EXPECT_LT(suppressed, 500);
}

// Hardening 20: behind a trusted proxy each client gets its own OAuth throttle; from an
// untrusted peer, X-Forwarded-For is ignored (a client cannot pick a fresh budget).
TEST_F(OAuthTokenTest, Hardening20TrustedProxiesNameTheClientAndNobodyElseDoes) {
  for (const std::string proxies : {"127.0.0.0/8", ""}) {
    start([&](Config& cfg) {
      cfg.ratelimit_policies = "oauth:fixed_window:2/60";
      cfg.oauth_ratelimit_policy = "oauth";
      cfg.trusted_proxies = proxies;
    });
    auto c = confidential();
    auto from = [&](const std::string& xff) {
      return form("/oauth2/token", "grant_type=client_credentials", c, {{"X-Forwarded-For", xff}}).status;
    };
    EXPECT_EQ(from("198.51.100.1"), 200);
    EXPECT_EQ(from("198.51.100.1"), 200);
    EXPECT_EQ(from("198.51.100.1"), 429) << proxies;
    if (proxies.empty()) {
      EXPECT_EQ(from("198.51.100.2"), 429) << "an untrusted peer's header is no new identity";
    } else {
      EXPECT_EQ(from("198.51.100.2"), 200) << "another client behind the proxy";
      EXPECT_EQ(from("9.9.9.9, 198.51.100.1"), 429) << "a spoofed left part changes nothing";
    }
  }
}

// --- the README's least-privilege Redis user ---------------------------------------------------

namespace {
// The `redis-cli ACL SETUSER ...` command of README.md's "Running it yourself" block, as
// arguments (continuation lines joined, single quotes removed as the shell would).
std::vector<std::string> readme_acl_command() {
  std::string readme = read_file(std::string(LATCHKEY_SOURCE_DIR) + "/README.md");
  auto at = readme.find("redis-cli ACL SETUSER");
  if (at == std::string::npos) return {};
  std::string line;
  for (auto end = readme.find('\n', at);; end = readme.find('\n', at)) {
    std::string part = readme.substr(at, end - at);
    bool more = !part.empty() && part.back() == '\\';
    line += more ? part.substr(0, part.size() - 1) : part;
    at = end + 1;
    if (!more) break;
  }
  std::vector<std::string> args;
  std::string word;
  bool quoted = false, in_word = false;
  for (char c : line) {
    if (c == '\'') {
      quoted = !quoted;
      in_word = true;
    } else if (c == ' ' && !quoted) {
      if (in_word) args.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word.push_back(c);
      in_word = true;
    }
  }
  if (in_word) args.push_back(word);
  if (!args.empty()) args.erase(args.begin());  // redis-cli
  return args;
}
}  // namespace

// Every capability, run as the Redis user the README tells operators to create: a command a
// script needs that the ACL forbids would answer 503 (NOPERM) here.
TEST_F(OAuthTokenTest, EveryFlowRunsAsTheReadmesLeastPrivilegeRedisUser) {
  auto acl = readme_acl_command();
  ASSERT_GT(acl.size(), 8u);
  ASSERT_EQ(acl[0], "ACL");
  EXPECT_EQ(rs.command(acl), "OK");
  start([&](Config& c) {
    c.redis =
        *redis::parse_target("redis://latchkey:change-this-password@127.0.0.1:" + std::to_string(rs.port()) + "/0");
    c.session_limit = 2;
    c.login_max_failures = 2;
    c.token_issuer = "https://auth.example";  // DPoP proofs name the server's URL
  });
  EXPECT_NE(rs.command({"CLIENT", "LIST"}).find("user=latchkey"), std::string::npos);
  auto ok = [](const HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return json_of(r);
  };
  ok(srv->get("/readyz"), 200);
  // Sessions: create (and evict), validate, update, rotate, list, logout everywhere, destroy.
  std::string token;
  for (int i = 0; i < 3; ++i)
    token = str(ok(srv->post("/v1/sessions", R"({"user_id":"u1","data":{"n":1}})"), 201).as_object(), "token");
  ok(srv->post("/v1/sessions/validate", "{\"token\":\"" + token + "\"}"), 200);
  ok(srv->patch("/v1/sessions/current", R"({"data":{"n":2},"version":1})", {{"X-Session-Token", token}}), 200);
  token = str(ok(srv->post("/v1/sessions/current/rotate", "", {{"X-Session-Token", token}}), 200).as_object(), "token");
  ok(srv->get("/v1/users/u1/sessions"), 200);
  ok(srv->del("/v1/sessions/current", {{"X-Session-Token", token}}), 204);
  ok(srv->del("/v1/users/u1/sessions"), 200);
  // Tokens: issue, verify, refresh, revoke, revoke everything of a user.
  auto pair = ok(srv->post("/v1/tokens", R"({"user_id":"u2"})"), 200).as_object();
  ok(srv->post("/v1/tokens/verify", "{\"token\":\"" + str(pair, "access_token") + "\"}"), 200);
  auto next = ok(srv->post("/v1/tokens/refresh", "{\"refresh_token\":\"" + str(pair, "refresh_token") + "\"}"), 200);
  ok(srv->post("/v1/tokens/revoke", "{\"token\":\"" + str(next.as_object(), "access_token") + "\"}"), 200);
  ok(srv->del("/v1/users/u2/tokens"), 200);
  // OAuth: the code flow with PKCE, refresh, introspection, revocation, client credentials.
  auto c = confidential();
  auto t = obj(redeem(c, code_for(c.id)));
  ASSERT_TRUE(t.contains("refresh_token"));
  EXPECT_TRUE(active(c, str(t, "access_token")));
  ok(refresh(c, str(t, "refresh_token")), 200);
  ok(form("/oauth2/revoke", "token=" + form_escape(str(t, "access_token")), c), 200);
  ok(form("/oauth2/token", "grant_type=client_credentials&scope=read", c), 200);
  // OpenID Connect and DPoP: an ID token (the login kept), userinfo, a bound token (the jti seen).
  auto oc = register_client(R"({"redirect_uris":[")" + kRedirect +
                            R"("],"grant_types":["authorization_code","refresh_token","client_credentials"],)"
                            R"("scope":"openid email"})");
  auto ot =
      obj(redeem(oc, code_for(oc.id, R"({"scope":"openid email","nonce":"n","claims":{"email":"u@example.com"}})")));
  ASSERT_TRUE(ot.contains("id_token"));
  ok(refresh(oc, str(ot, "refresh_token")), 200);
  ok(srv->get("/oauth2/userinfo", {{"Authorization", "Bearer " + str(ot, "access_token")}}), 200);
  ProofKey key;
  auto bound = ok(form("/oauth2/token", "grant_type=client_credentials", oc,
                       {{"DPoP", key.proof("POST", "https://auth.example/oauth2/token")}}),
                  200);
  EXPECT_EQ(str(bound.as_object(), "token_type"), "DPoP");
  ok(srv->del("/v1/users/alice/tokens"), 200);
  ok(srv->del("/v1/oauth/clients/" + c.id), 204);
  // Logins: check, failures to a lockout, the admin view, unlock, success with a device token.
  const std::string who = R"({"user_id":"u3","ip":"203.0.113.7"})";
  ok(srv->post("/v1/logins/check", who), 200);
  ok(srv->post("/v1/logins/failure", who), 200);
  ok(srv->post("/v1/logins/failure", who), 200);
  ok(srv->post("/v1/logins/check", who), 429);
  ok(srv->get("/v1/users/u3/lockout"), 200);
  ok(srv->del("/v1/users/u3/lockout"), 204);
  ok(srv->post("/v1/logins/success", who), 200);
  // Rate limits: every algorithm.
  for (const char* algorithm : {"fixed_window", "sliding_window", "gcra"})
    ok(srv->post("/v1/ratelimit/check",
                 std::string(R"({"key":"k","limit":5,"window":60,"algorithm":")") + algorithm + "\"}"),
       200);
  // And the ACL holds: nothing outside the prefix.
  EXPECT_EQ(rs.command({"ACL", "DRYRUN", "latchkey", "SET", "other", "1"}).find("OK"), std::string::npos);
}
