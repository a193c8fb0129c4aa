// Tokens over real HTTP against a real Redis: issue, verify, refresh with rotation, grace and
// reuse detection, revocation, JWKS; bad input (changing nothing), the RFC 8725 attacks as
// named tests, concurrency with parallel clients, Redis outages and WAIT for replicas.
#include "latchkey/redis/slot.hpp"
#include "latchkey/clock.hpp"
#include "latchkey/tokens.hpp"

#include "support/test_server.hpp"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

using namespace latchkey;
using namespace latchkey::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace jws = latchkey::crypto::jws;

namespace {

struct Issued {
  std::string access, refresh;
};

class TokensTest : public ::testing::Test {
 protected:
  void start(jws::Alg alg = jws::Alg::EdDSA, const std::function<void(Config&)>& tweak = {}) {
    srv.reset();
    secrets = test_secrets(std::nullopt, alg);
    srv = std::make_unique<TestServer>(rs, tweak, std::nullopt, secrets);
  }
  void SetUp() override { start(); }

  Issued issue(const std::string& user, const std::string& extra = "") {
    auto r = srv->post("/v1/tokens", "{\"user_id\":\"" + user + "\"" + extra + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    auto v = json_of(r);
    if (!v.is_object()) return {};
    return {std::string(v.at("access_token").as_string()), std::string(v.at("refresh_token").as_string())};
  }
  HttpResult verify(const std::string& token, const std::string& extra = "") {
    return srv->post("/v1/tokens/verify", "{\"token\":\"" + token + "\"" + extra + "}");
  }
  HttpResult refresh(const std::string& rt) {
    return srv->post("/v1/tokens/refresh", "{\"refresh_token\":\"" + rt + "\"}");
  }
  HttpResult revoke(const std::string& t) { return srv->post("/v1/tokens/revoke", "{\"token\":\"" + t + "\"}"); }
  Issued pair_of(const HttpResult& r) {
    auto v = json_of(r);
    return {std::string(v.at("access_token").as_string()), std::string(v.at("refresh_token").as_string())};
  }
  const jws::Key& signer() { return secrets->signing.signer(unix_now()); }
  // A token signed by the server's own key, with any header and claims.
  std::string forge(const std::string& header, const json::object& claims) {
    return jws::sign_compact(signer(), header, json::serialize(claims));
  }
  std::string header() {
    return std::string(R"({"alg":")") + jws::alg_name(signer().alg()) + R"(","kid":")" + signer().kid() +
           R"(","typ":"at+jwt"})";
  }
  json::object good_claims() {
    auto n = unix_now();
    return {{"iss", "latchkey"}, {"sub", "mallory"}, {"iat", n}, {"nbf", n}, {"exp", n + 300}, {"jti", "forged-1"}};
  }
  void expect_invalid(const std::string& token, const std::string& extra = "") {
    auto r = verify(token, extra);
    EXPECT_EQ(r.status, 401) << token.substr(0, 60) << " -> " << r.body;
    EXPECT_EQ(error_code(r), "invalid_token");
    EXPECT_EQ(r.body.find("\"active\":true"), std::string::npos);
  }

  RedisServer rs;
  std::optional<Secrets> secrets;
  std::unique_ptr<TestServer> srv;
};

}  // namespace

TEST_F(TokensTest, IssueThenVerifyReturnsTheSignedClaims) {
  auto r = srv->post(
      "/v1/tokens",
      R"({"user_id":"alice","claims":{"role":"admin","tenant":7},"scope":"read write","audience":"api.example"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-store");
  EXPECT_EQ(r.header("pragma"), "no-cache");
  auto v = json_of(r);
  EXPECT_EQ(v.at("token_type").as_string(), "Bearer");
  EXPECT_EQ(v.at("expires_in").as_int64(), 900);
  std::string at(v.at("access_token").as_string());
  EXPECT_EQ(v.at("refresh_token").as_string().size(), 47u);
  auto header = json::parse(*crypto::base64url_decode(at.substr(0, at.find('.'))));
  EXPECT_EQ(header.at("typ").as_string(), "at+jwt");
  EXPECT_EQ(header.at("alg").as_string(), "EdDSA");
  EXPECT_EQ(header.at("kid").as_string(), signer().kid());

  auto ok = verify(at, R"(,"audience":"api.example")");
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto c = json_of(ok);
  EXPECT_TRUE(c.at("active").as_bool());
  const auto& claims = c.at("claims").as_object();
  EXPECT_EQ(claims.at("iss").as_string(), "latchkey");
  EXPECT_EQ(claims.at("sub").as_string(), "alice");
  EXPECT_EQ(claims.at("aud").as_string(), "api.example");
  EXPECT_EQ(claims.at("scope").as_string(), "read write");
  EXPECT_EQ(claims.at("role").as_string(), "admin");
  EXPECT_EQ(claims.at("tenant").as_int64(), 7);
  EXPECT_EQ(claims.at("exp").as_int64() - claims.at("iat").as_int64(), 900);
  EXPECT_EQ(claims.at("nbf").as_int64(), claims.at("iat").as_int64());
  EXPECT_LE(std::abs(claims.at("iat").as_int64() - unix_now()), 2);
  EXPECT_EQ(claims.at("jti").as_string().size(), 22u);  // 128 CSPRNG bits
  EXPECT_EQ(claims.at("sid").as_string().size(), 22u);
}

TEST_F(TokensTest, EveryAlgorithmSignsAndVerifies) {
  for (jws::Alg alg : jws::kAllAlgs) {
    start(alg);
    auto t = issue("u-" + std::string(jws::alg_name(alg)));
    auto h = json::parse(*crypto::base64url_decode(t.access.substr(0, t.access.find('.'))));
    EXPECT_EQ(h.at("alg").as_string(), jws::alg_name(alg));
    EXPECT_EQ(verify(t.access).status, 200) << jws::alg_name(alg);
    auto next = refresh(t.refresh);
    ASSERT_EQ(next.status, 200) << jws::alg_name(alg) << next.body;
    EXPECT_EQ(verify(pair_of(next).access).status, 200);
  }
}

TEST_F(TokensTest, IssueRejectsBadInputAndChangesNothing) {
  issue("existing");
  const std::string before = rs.dump_all();
  std::vector<std::pair<std::string, int>> cases{
      {R"({})", 400},
      {R"({"user_id":42})", 400},
      {R"({"user_id":""})", 400},
      {"{\"user_id\":\"" + std::string(257, 'u') + "\"}", 400},
      {R"({"user_id":"a\u0001b"})", 400},
      {R"({"user_id":"u","claims":"admin"})", 400},
      {R"({"user_id":"u","claims":[1]})", 400},
      {"{\"user_id\":\"u\",\"claims\":{\"x\":\"" + std::string(5000, 'x') + "\"}}", 413},
      {R"({"user_id":"u","scope":42})", 400},
      {R"({"user_id":"u","scope":""})", 400},
      {R"({"user_id":"u","scope":"a  b"})", 400},
      {R"({"user_id":"u","scope":"a\"b"})", 400},
      {R"({"user_id":"u","scope":" read"})", 400},
      {R"({"user_id":"u","audience":7})", 400},
      {R"({"user_id":"u","audience":""})", 400},
      {R"({"user_id":"u","expires_in":60})", 400},
      {R"({"user_id":"u")", 400},
      {R"(["user_id"])", 400},
  };
  for (const char* reserved :
       {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "sid", "client_id", "cnf", "typ"})
    cases.push_back({std::string(R"({"user_id":"u","claims":{")") + reserved + R"(":"x"}})", 400});
  for (const auto& [body, status] : cases) {
    auto r = srv->post("/v1/tokens", body);
    EXPECT_EQ(r.status, status) << body.substr(0, 80) << " -> " << r.body;
    EXPECT_FALSE(error_code(r).empty());
  }
  auto named = srv->post("/v1/tokens", R"({"user_id":"u","claims":{"ok":1,"exp":1}})");
  EXPECT_NE(json_of(named).at("error_description").as_string().find("'exp'"), std::string::npos) << named.body;
  EXPECT_EQ(srv->post("/v1/tokens", R"({"user_id":"u"})", {{"Content-Type", "text/plain"}}).status, 415);
  EXPECT_EQ(srv->post("/v1/tokens", R"({"user_id":"u"})", {{"Authorization", ""}}).status, 401);
  EXPECT_EQ(srv->post("/v1/tokens", R"({"user_id":"u"})", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(srv->post("/v1/tokens", "{\"user_id\":\"" + std::string(70000, 'u') + "\"}").status, 413);
  EXPECT_EQ(rs.dump_all(), before) << "a rejected request changed Redis";
}

TEST_F(TokensTest, OtherEndpointsRejectBadInputAndChangeNothing) {
  auto t = issue("existing");
  const std::string before = rs.dump_all();
  for (const char* path : {"/v1/tokens/verify", "/v1/tokens/refresh", "/v1/tokens/revoke"}) {
    for (std::string body : {"{}", R"({"token":42,"refresh_token":42})", "{\"x\":1}", "not json", "[]"}) {
      auto r = srv->post(path, body);
      EXPECT_EQ(r.status, 400) << path << " " << body << " -> " << r.body;
      EXPECT_EQ(error_code(r), "invalid_request");
    }
    EXPECT_EQ(srv->post(path, "{}", {{"Authorization", ""}}).status, 401);
    EXPECT_EQ(srv->post(path, "{}", {{"Content-Type", "text/plain"}}).status, 415);
  }
  EXPECT_EQ(verify(t.access, R"(,"audience":5)").status, 400);
  EXPECT_EQ(srv->del("/v1/users/%ZZ/tokens").status, 400);
  EXPECT_EQ(srv->del("/v1/users/x/tokens", {{"Authorization", ""}}).status, 401);
  // Tokens are never accepted in the URL.
  EXPECT_EQ(srv->post("/v1/tokens/verify?token=" + t.access, "{}").status, 400);
  EXPECT_EQ(srv->post("/v1/tokens/refresh?refresh_token=" + t.refresh, "{}").status, 400);
  EXPECT_EQ(rs.dump_all(), before);
}

// --- verification: the attacks of RFC 8725, each by name ------------------------------------

TEST_F(TokensTest, RejectAlgNone) {
  auto t = issue("u1");
  std::string payload = t.access.substr(t.access.find('.') + 1, t.access.rfind('.') - t.access.find('.') - 1);
  for (std::string alg : {"none", "None", "NONE"}) {
    std::string h =
        crypto::base64url_encode(R"({"alg":")" + alg + R"(","kid":")" + signer().kid() + R"(","typ":"at+jwt"})");
    expect_invalid(h + "." + payload + ".");
    expect_invalid(h + "." + payload + "." + t.access.substr(t.access.rfind('.') + 1));
  }
}

TEST_F(TokensTest, RejectHs256SignedWithTheServersPublicKey) {
  start(jws::Alg::RS256);
  auto pub = jws::Key::from_jwk(*signer().public_jwk());
  ASSERT_TRUE(pub);
  auto hmac = jws::Key::from_secret(signer().kid(), pub->private_material());  // the public PEM as an HMAC secret
  ASSERT_TRUE(hmac);
  std::string token = jws::sign_compact(*hmac, R"({"alg":"HS256","kid":")" + signer().kid() + R"(","typ":"at+jwt"})",
                                        json::serialize(good_claims()));
  expect_invalid(token);
}

TEST_F(TokensTest, RejectUnknownKidAndKidInjection) {
  auto claims = json::serialize(good_claims());
  auto other = jws::Key::generate(signer().alg(), "attacker");
  expect_invalid(jws::sign_compact(other, R"({"alg":"EdDSA","kid":"attacker","typ":"at+jwt"})", claims));
  for (std::string kid : {"../../../dev/null", "x' OR '1'='1", "*"})
    expect_invalid(jws::sign_compact(signer(), R"({"alg":"EdDSA","kid":")" + kid + R"(","typ":"at+jwt"})", claims));
  expect_invalid(jws::sign_compact(signer(), R"({"alg":"EdDSA","typ":"at+jwt"})", claims));
  // The right kid with a key of the attacker: the signature fails.
  expect_invalid(jws::sign_compact(other, header(), claims));
}

TEST_F(TokensTest, RejectKeysOrExtensionsCarriedInTheHeader) {
  auto attacker = jws::Key::generate(jws::Alg::EdDSA, signer().kid());
  std::string kid = signer().kid();
  std::string jwk = json::serialize(*attacker.public_jwk());
  for (std::string extra :
       {"\"jwk\":" + jwk, std::string(R"("jku":"http://127.0.0.1:1/jwks.json")"),
        std::string(R"("x5u":"http://127.0.0.1:1/cert.pem")"), std::string(R"("crit":["urn:x"],"urn:x":1)")}) {
    expect_invalid(jws::sign_compact(attacker, R"({"alg":"EdDSA","kid":")" + kid + R"(","typ":"at+jwt",)" + extra + "}",
                                     json::serialize(good_claims())));
    // Even signed with the real key, a token asking for unknown extensions is refused.
    expect_invalid(jws::sign_compact(signer(), R"({"alg":"EdDSA","kid":")" + kid + R"(","typ":"at+jwt",)" + extra + "}",
                                     json::serialize(good_claims())));
  }
}

TEST_F(TokensTest, RejectNonCanonicalBase64url) {
  auto t = issue("u2");
  ASSERT_EQ(verify(t.access).status, 200);
  std::string padded = t.access + "==";
  expect_invalid(padded);
  std::string std_alphabet = t.access;
  for (char& c : std_alphabet) c = c == '-' ? '+' : c == '_' ? '/' : c;
  if (std_alphabet != t.access) expect_invalid(std_alphabet);
  // EdDSA signature: 86 characters, the last carries 4 unused bits; set one of them.
  std::string alt = t.access;
  alt.back() = static_cast<char>(alt.back() + 1);
  expect_invalid(alt);
  expect_invalid(t.access + ".");
  expect_invalid(" " + t.access);
}

TEST_F(TokensTest, RejectOversizeTokensBeforeParsing) {
  auto claims = good_claims();
  claims["pad"] = std::string(9000, 'p');
  expect_invalid(forge(header(), claims));
  expect_invalid(std::string(8193, 'A'));
}

TEST_F(TokensTest, RejectWrongTyp) {
  std::string kid = signer().kid();
  for (std::string typ : {R"(,"typ":"JWT")", R"(,"typ":"refresh+jwt")", R"(,"typ":"at+jwt2")", "", R"(,"typ":1)"})
    expect_invalid(forge(R"({"alg":"EdDSA","kid":")" + kid + "\"" + typ + "}", good_claims()));
  for (std::string typ : {"application/at+jwt", "AT+JWT"}) {
    auto r = verify(forge(R"({"alg":"EdDSA","kid":")" + kid + R"(","typ":")" + typ + "\"}", good_claims()));
    EXPECT_EQ(r.status, 200) << typ << " (RFC 7515 4.1.9: media types compare case-insensitively)";
  }
}

TEST_F(TokensTest, RejectRefreshTokenUsedAsAccessTokenAndViceVersa) {
  auto t = issue("u3");
  expect_invalid(t.refresh);
  auto r = refresh(t.access);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(error_code(r), "invalid_grant");
  // A session token is neither.
  auto s = srv->post("/v1/sessions", R"({"user_id":"u3"})");
  std::string session(json_of(s).at("token").as_string());
  expect_invalid(session);
  EXPECT_EQ(refresh(session).status, 401);
}

TEST_F(TokensTest, RejectExpiredAndNotYetValidOutsideTheLeeway) {
  auto n = unix_now();
  auto c = good_claims();
  c["exp"] = n - 31;
  expect_invalid(forge(header(), c));
  c["exp"] = n - 20;  // inside the 30 s leeway
  EXPECT_EQ(verify(forge(header(), c)).status, 200);
  c = good_claims();
  c["nbf"] = n + 60;
  expect_invalid(forge(header(), c));
  c["nbf"] = n + 20;
  EXPECT_EQ(verify(forge(header(), c)).status, 200);
  c = good_claims();
  c["iat"] = n + 120;
  expect_invalid(forge(header(), c));
  for (const char* field : {"exp", "iat", "sub", "jti", "iss"}) {
    c = good_claims();
    c.erase(field);
    expect_invalid(forge(header(), c));
  }
  c = good_claims();
  c["exp"] = "soon";
  expect_invalid(forge(header(), c));
  c = good_claims();
  c["exp"] = 1.5e12;
  expect_invalid(forge(header(), c));
}

TEST_F(TokensTest, RejectForeignIssuer) {
  auto c = good_claims();
  c["iss"] = "https://evil.example";
  expect_invalid(forge(header(), c));
  start(jws::Alg::EdDSA, [](Config& cfg) { cfg.token_issuer = "https://auth.example"; });
  auto t = issue("u4");
  EXPECT_EQ(verify(t.access).status, 200);
  c = good_claims();  // iss "latchkey": signed by our key, but not our issuer any more
  expect_invalid(forge(header(), c));
}

TEST_F(TokensTest, RejectWrongOrMissingAudience) {
  auto t = issue("u5", R"(,"audience":"orders")");
  EXPECT_EQ(verify(t.access, R"(,"audience":"orders")").status, 200);
  expect_invalid(t.access, R"(,"audience":"billing")");
  expect_invalid(t.access);  // a caller naming no audience does not get audience-bound tokens
  auto plain = issue("u5");
  expect_invalid(plain.access, R"(,"audience":"orders")");  // nor an audience-less token when it names one
  auto c = good_claims();
  c["aud"] = json::array{"billing", "orders"};
  EXPECT_EQ(verify(forge(header(), c), R"(,"audience":"orders")").status, 200);
}

TEST_F(TokensTest, RejectAlgorithmOutsideTheAllowlist) {
  start(jws::Alg::HS256, [](Config& cfg) { cfg.token_algorithms = "EdDSA,ES256"; });
  auto t = issue("u6");  // signed with HS256, which verification does not allow
  expect_invalid(t.access);
}

TEST_F(TokensTest, RejectRevokedJtiEvenWhenTheEcdsaSignatureIsMalleated) {
  start(jws::Alg::ES256);
  auto t = issue("u7");
  ASSERT_EQ(json_of(revoke(t.access)).at("revoked").as_bool(), true);
  // (r, n - s) is a second valid signature of the same token (JW-1): still revoked, by jti.
  std::string sig = *crypto::base64url_decode(t.access.substr(t.access.rfind('.') + 1));
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
  BIGNUM* n = BN_new();
  EC_GROUP* g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  EC_GROUP_get_order(g, n, nullptr);
  BN_sub(s, n, s);
  std::string flipped = sig;
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(flipped.data()) + 32, 32);
  BN_free(s);
  BN_free(n);
  EC_GROUP_free(g);
  std::string malleated = t.access.substr(0, t.access.rfind('.') + 1) + crypto::base64url_encode(flipped);
  ASSERT_NE(malleated, t.access);
  tokens::Settings settings;
  tokens::AccessTokens local(secrets->signing, settings);
  ASSERT_TRUE(std::holds_alternative<tokens::AccessClaims>(local.check(malleated, unix_now(), "")))
      << "the malleated signature is valid";
  expect_invalid(malleated);
  expect_invalid(t.access);
}

// --- refresh --------------------------------------------------------------------------------

TEST_F(TokensTest, RefreshRotatesAndTheGraceWindowReturnsTheSamePair) {
  auto t0 = issue("bob", R"(,"scope":"read","claims":{"plan":"pro"})");
  auto r1 = refresh(t0.refresh);
  ASSERT_EQ(r1.status, 200) << r1.body;
  EXPECT_EQ(r1.header("pragma"), "no-cache");
  auto t1 = pair_of(r1);
  EXPECT_NE(t1.refresh, t0.refresh);
  EXPECT_NE(t1.access, t0.access);
  auto claims = json_of(verify(t1.access)).at("claims");
  EXPECT_EQ(claims.at("sub").as_string(), "bob");
  EXPECT_EQ(claims.at("scope").as_string(), "read");
  EXPECT_EQ(claims.at("plan").as_string(), "pro");
  // Within the grace window the retired token answers with the very same pair...
  auto again = refresh(t0.refresh);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body, r1.body);
  // ...and the chain goes on from it.
  auto r2 = refresh(t1.refresh);
  ASSERT_EQ(r2.status, 200);
  auto t2 = pair_of(r2);
  // t0 is now two generations old: reuse. The whole family dies, including t2.
  auto reuse = refresh(t0.refresh);
  EXPECT_EQ(reuse.status, 401);
  EXPECT_EQ(error_code(reuse), "invalid_grant");
  EXPECT_EQ(refresh(t2.refresh).status, 401) << "reuse revokes the live token of the family";
  expect_invalid(t2.access);  // and the access tokens minted from it
  expect_invalid(t1.access);
  // Another login of the same user is untouched.
  auto other = issue("bob");
  EXPECT_EQ(refresh(other.refresh).status, 200);
}

TEST_F(TokensTest, GraceZeroTreatsAnyRetryAsReuse) {
  start(jws::Alg::EdDSA, [](Config& c) { c.token_refresh_grace = std::chrono::seconds(0); });
  auto t0 = issue("carol");
  auto t1 = pair_of(refresh(t0.refresh));
  EXPECT_EQ(refresh(t0.refresh).status, 401);
  EXPECT_EQ(refresh(t1.refresh).status, 401);
}

TEST_F(TokensTest, GraceWindowEnds) {
  start(jws::Alg::EdDSA, [](Config& c) { c.token_refresh_grace = std::chrono::seconds(1); });
  auto t0 = issue("dan");
  auto t1 = pair_of(refresh(t0.refresh));
  std::this_thread::sleep_for(2100ms);
  EXPECT_EQ(refresh(t0.refresh).status, 401);
  EXPECT_EQ(refresh(t1.refresh).status, 401) << "late reuse still revokes the family";
}

TEST_F(TokensTest, StoredFamilyDeadlinesWinOverTtls) {
  auto t = issue("erin");
  std::string keys = rs.command({"KEYS", "lk:rf:*"});
  ASSERT_EQ(std::count(keys.begin(), keys.end(), '\n'), 0) << keys;
  rs.command({"HSET", keys, "le", std::to_string(unix_now() - 1209600 - 5)});  // idle for 14 days
  rs.command({"PERSIST", keys});
  EXPECT_EQ(refresh(t.refresh).status, 401);
  EXPECT_EQ(rs.command({"EXISTS", keys}), "0");
  auto u = issue("erin");
  keys = rs.command({"KEYS", "lk:rf:*"});
  rs.command({"HSET", keys, "ae", std::to_string(unix_now() - 1)});  // past the absolute lifetime
  EXPECT_EQ(refresh(u.refresh).status, 401);
}

TEST_F(TokensTest, UnknownAndMalformedRefreshTokensAreInvalidGrants) {
  auto t = issue("fred");
  const std::string before = rs.dump_all();
  auto raw = *crypto::base64url_decode(t.refresh);
  raw[0] = 1;  // version byte 1: a session token's format
  std::string other_version = crypto::base64url_encode(raw);
  for (std::string bad :
       {std::string(""), std::string("x"), t.refresh + "A", t.refresh.substr(0, 46), other_version,
        std::string(47, '+'), redis::new_handle(2, 0), redis::new_handle(2, *redis::handle_slot(t.refresh, 2))}) {
    auto r = refresh(bad);
    EXPECT_EQ(r.status, 401) << bad;
    EXPECT_EQ(error_code(r), "invalid_grant");
  }
  EXPECT_EQ(rs.dump_all(), before);
}

// A grant that no longer decrypts (its encryption key left the ring) makes the refresh token
// invalid without touching the family: with the key back, it refreshes again.
TEST_F(TokensTest, UnreadableGrantIsInvalidAndLeavesTheFamilyIntact) {
  auto t = issue("grace-less");
  const std::string before = rs.dump_all();
  auto original = *secrets;
  srv.reset();
  secrets = Secrets{crypto::KeyRing::generate(), original.signing, std::string(32, 'k')};
  srv = std::make_unique<TestServer>(rs, nullptr, std::nullopt, secrets);
  auto r = refresh(t.refresh);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(error_code(r), "invalid_grant");
  EXPECT_EQ(rs.dump_all(), before);
  srv.reset();
  secrets = original;
  srv = std::make_unique<TestServer>(rs, nullptr, std::nullopt, secrets);
  EXPECT_EQ(refresh(t.refresh).status, 200);
}

TEST_F(TokensTest, NoTokenOrClaimInClearAtRest) {
  std::vector<Issued> made;
  for (int i = 0; i < 3; ++i)
    made.push_back(issue("gina" + std::to_string(i), R"(,"claims":{"secret_marker":"zebra-42"})"));
  made.push_back(pair_of(refresh(made[0].refresh)));
  std::string dump = rs.dump_all(true);
  for (const auto& t : made) {
    EXPECT_EQ(dump.find(t.refresh), std::string::npos);
    EXPECT_EQ(dump.find(t.access.substr(t.access.rfind('.') + 1)), std::string::npos);
  }
  EXPECT_EQ(dump.find("zebra-42"), std::string::npos);
  EXPECT_EQ(dump.find("gina"), std::string::npos) << "user ids are stored only sealed or hashed";
}

TEST_F(TokensTest, FamiliesPerUserAreBounded) {
  start(jws::Alg::EdDSA, [](Config& c) { c.token_max_families_per_user = 3; });
  std::vector<Issued> logins;
  for (int i = 0; i < 5; ++i) logins.push_back(issue("hank"));
  int live = 0;
  for (const auto& t : logins) live += refresh(t.refresh).status == 200;
  EXPECT_EQ(live, 3);
  EXPECT_EQ(refresh(logins[0].refresh).status, 401) << "the oldest logins were revoked";
}

// --- revocation -----------------------------------------------------------------------------

TEST_F(TokensTest, RevokeAccessTokenByJti) {
  auto t = issue("ivan");
  auto r = revoke(t.access);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json_of(r).at("revoked").as_bool());
  expect_invalid(t.access);
  EXPECT_FALSE(json_of(revoke(t.access)).at("revoked").as_bool()) << "already revoked";
  EXPECT_EQ(refresh(t.refresh).status, 200) << "revoking an access token leaves its refresh token";
  std::string ttl = rs.command({"TTL", rs.command({"KEYS", "lk:tj:*"})});
  EXPECT_GT(std::stoi(ttl), 900);
  EXPECT_LE(std::stoi(ttl), 900 + 31 + 2) << "the denylist entry lives until exp + leeway";
  for (std::string junk : {std::string("garbage"), std::string("a.b.c"), std::string(47, 'A')}) {
    auto j = revoke(junk);
    EXPECT_EQ(j.status, 200);
    EXPECT_FALSE(json_of(j).at("revoked").as_bool());
  }
  auto aud = issue("ivan", R"(,"audience":"orders")");
  EXPECT_TRUE(json_of(revoke(aud.access)).at("revoked").as_bool()) << "revocation ignores the audience";
  expect_invalid(aud.access, R"(,"audience":"orders")");
}

TEST_F(TokensTest, RevokeRefreshTokenRevokesItsFamilyAndItsAccessTokens) {
  auto t = issue("judy");
  auto t1 = pair_of(refresh(t.refresh));
  auto r = revoke(t1.refresh);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(json_of(r).at("revoked").as_bool());
  EXPECT_EQ(refresh(t1.refresh).status, 401);
  expect_invalid(t.access);
  expect_invalid(t1.access);
  EXPECT_FALSE(json_of(revoke(t1.refresh)).at("revoked").as_bool());
  EXPECT_FALSE(json_of(revoke(t.refresh)).at("revoked").as_bool()) << "a retired token of a dead family";
}

TEST_F(TokensTest, RevokeAllOfAUserKillsEverythingIssuedBefore) {
  auto a = issue("kim");
  auto b = issue("kim", R"(,"audience":"orders")");
  auto other = issue("lee");
  auto r = srv->del("/v1/users/kim/tokens");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_of(r).at("refresh_families").as_int64(), 2);
  expect_invalid(a.access);
  expect_invalid(b.access, R"(,"audience":"orders")");
  EXPECT_EQ(refresh(a.refresh).status, 401);
  EXPECT_EQ(refresh(b.refresh).status, 401);
  EXPECT_EQ(verify(other.access).status, 200) << "other users are untouched";
  // A login right after (even within the same second) works.
  auto fresh = issue("kim");
  EXPECT_EQ(verify(fresh.access).status, 200) << fresh.access;
  EXPECT_EQ(refresh(fresh.refresh).status, 200);
  EXPECT_EQ(json_of(srv->del("/v1/users/nobody/tokens")).at("refresh_families").as_int64(), 0);
}

TEST_F(TokensTest, AUsersFamiliesAreListedAndOneIsRevokedByItsId) {
  auto a = issue("kim");
  std::this_thread::sleep_for(5ms);  // families are listed by creation time (µs)
  auto b = issue("kim", R"(,"audience":"orders","scope":"read")");
  auto lee = issue("lee");
  auto b1 = pair_of(refresh(b.refresh));
  auto listed = srv->get("/v1/users/kim/tokens");
  ASSERT_EQ(listed.status, 200) << listed.body;
  const auto fams = json_of(listed).at("families").as_array();
  ASSERT_EQ(fams.size(), 2u) << listed.body;
  const auto& fa = fams[0].as_object();
  const auto& fb = fams[1].as_object();
  EXPECT_TRUE(fa.at("client_id").is_null()) << "a /v1/tokens login has no client";
  EXPECT_EQ(fa.at("audience").as_string(), "");
  EXPECT_EQ(fb.at("audience").as_string(), "orders");
  EXPECT_EQ(fb.at("scope").as_string(), "read");
  const auto now = unix_now();
  for (const auto* f : {&fa, &fb}) {
    EXPECT_EQ(f->at("family_id").as_string().size(), 22u);
    EXPECT_LE(f->at("created_at").as_int64(), now);
    EXPECT_GE(f->at("last_used_at").as_int64(), f->at("created_at").as_int64());
    EXPECT_GT(f->at("idle_expires_at").as_int64(), now);
    EXPECT_LE(f->at("idle_expires_at").as_int64(), f->at("expires_at").as_int64());
  }
  for (const auto& s : {a.access, a.refresh, b.refresh, b1.refresh, b1.access})
    EXPECT_EQ(listed.body.find(s), std::string::npos) << "no token in the list";
  const std::string fb_id(fb.at("family_id").as_string());
  const std::string lee_id(
      json_of(srv->get("/v1/users/lee/tokens")).at("families").as_array()[0].at("family_id").as_string());

  // Another user's family through kim's path, unknown and malformed ids: 404, nothing changes.
  const std::string before = rs.dump_all();
  for (const std::string& id : {lee_id, std::string("AAAAAAAAAAAAAAAAAAAAAA"), std::string("short"),
                                std::string("AAAAAAAAAAAAAAAAAAAAA%2F"), std::string(300, 'A')}) {
    auto r = srv->del("/v1/users/kim/tokens/" + id);
    EXPECT_EQ(r.status, 404) << id << " -> " << r.body;
    EXPECT_EQ(error_code(r), "not_found");
  }
  EXPECT_EQ(srv->del("/v1/users/%00/tokens/" + fb_id).status, 400);
  EXPECT_EQ(srv->get("/v1/users/%00/tokens").status, 400);
  EXPECT_EQ(srv->get("/v1/users/kim/tokens", {{"Authorization", ""}}).status, 401);
  EXPECT_EQ(srv->del("/v1/users/kim/tokens/" + fb_id, {{"Authorization", ""}}).status, 401);
  EXPECT_EQ(rs.dump_all(), before);

  // Revoke b's family: its refresh and access tokens die; kim's other login and lee live.
  ASSERT_EQ(srv->del("/v1/users/kim/tokens/" + fb_id).status, 204);
  EXPECT_EQ(refresh(b1.refresh).status, 401);
  expect_invalid(b1.access, R"(,"audience":"orders")");
  expect_invalid(b.access, R"(,"audience":"orders")");
  EXPECT_EQ(verify(a.access).status, 200);
  EXPECT_EQ(verify(lee.access).status, 200);
  EXPECT_EQ(srv->del("/v1/users/kim/tokens/" + fb_id).status, 404) << "already revoked";
  const auto left = json_of(srv->get("/v1/users/kim/tokens")).at("families").as_array();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].at("family_id").as_string(), fa.at("family_id").as_string());
  auto ev = event_of(*srv, "token_revoked", "&user_id=kim");
  EXPECT_EQ(ev.at("family").as_string(), fb_id);
  EXPECT_EQ(ev.at("outcome").as_string(), "revoked");
  EXPECT_TRUE(json_of(srv->get("/v1/users/nobody/tokens")).at("families").as_array().empty());
}

// --- JWKS and key rotation ------------------------------------------------------------------

TEST_F(TokensTest, JwksPublishesPublicKeysOnlyWithCacheHeaders) {
  srv.reset();
  auto ring = crypto::SigningRing::generate(jws::Alg::EdDSA, unix_now());
  ring.add(jws::Alg::ES256, unix_now(), unix_now());
  ring.add(jws::Alg::RS256, unix_now(), unix_now());
  ring.add(jws::Alg::HS256, unix_now(), unix_now());
  secrets = Secrets{crypto::KeyRing::generate(), ring, std::string(32, 'k')};
  srv = std::make_unique<TestServer>(rs, nullptr, std::nullopt, secrets);
  auto r = srv->get("/.well-known/jwks.json", {{"Authorization", ""}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/jwk-set+json");
  EXPECT_EQ(r.header("cache-control"), "public, max-age=300");
  auto doc = json_of(r);
  const auto& keys = doc.at("keys").as_array();
  ASSERT_EQ(keys.size(), 3u) << "the HS256 secret is never published";
  std::set<std::string> kty;
  for (const auto& k : keys) {
    kty.insert(std::string(k.at("kty").as_string()));
    EXPECT_EQ(k.at("use").as_string(), "sig");
    for (const char* priv : {"d", "p", "q", "dp", "dq", "qi", "k"}) EXPECT_FALSE(k.as_object().contains(priv));
  }
  EXPECT_EQ(kty, (std::set<std::string>{"OKP", "EC", "RSA"}));
  EXPECT_EQ(r.body.find("PRIVATE"), std::string::npos);
}

TEST_F(TokensTest, KeyRotationKeepsTokensInFlightValid) {
  auto before = issue("mia");
  srv.reset();
  auto ring = secrets->signing;
  ring.add(jws::Alg::ES256, unix_now(), unix_now());  // the new key signs from now on
  secrets = Secrets{secrets->encryption, ring, secrets->identifier_key};
  srv = std::make_unique<TestServer>(rs, nullptr, std::nullopt, secrets);
  EXPECT_EQ(verify(before.access).status, 200) << "signed by the old key, still in the ring";
  auto after = issue("mia");
  auto h = json::parse(*crypto::base64url_decode(after.access.substr(0, after.access.find('.'))));
  EXPECT_EQ(h.at("alg").as_string(), "ES256");
  EXPECT_EQ(refresh(before.refresh).status, 200) << "refresh tokens do not depend on signing keys";
  EXPECT_EQ(json_of(srv->get("/.well-known/jwks.json")).at("keys").as_array().size(), 2u);
  // A key published ahead of time does not sign yet.
  srv.reset();
  ring.add(jws::Alg::RS256, unix_now(), unix_now() + 3600);
  secrets = Secrets{secrets->encryption, ring, secrets->identifier_key};
  srv = std::make_unique<TestServer>(rs, nullptr, std::nullopt, secrets);
  auto later = issue("mia");
  h = json::parse(*crypto::base64url_decode(later.access.substr(0, later.access.find('.'))));
  EXPECT_EQ(h.at("alg").as_string(), "ES256");
  EXPECT_EQ(json_of(srv->get("/.well-known/jwks.json")).at("keys").as_array().size(), 3u);
}

// --- concurrency with real parallel clients -------------------------------------------------

// 20 clients refresh one token at once. Within the grace window every client gets the same
// pair; with grace off, at most one wins and its successor dies with the family. Never two
// live chains.
TEST_F(TokensTest, ConcurrentRefreshesOfOneTokenNeverForkTheFamily) {
  for (int grace : {10, 0}) {
    start(jws::Alg::EdDSA, [grace](Config& c) { c.token_refresh_grace = std::chrono::seconds(grace); });
    auto t = issue("para");
    constexpr int kClients = 20;
    std::vector<std::future<HttpResult>> fs;
    for (int i = 0; i < kClients; ++i)
      fs.push_back(std::async(std::launch::async, [this, &t] { return refresh(t.refresh); }));
    std::set<std::string> pairs;
    int ok = 0;
    for (auto& f : fs) {
      auto r = f.get();
      ASSERT_TRUE(r.status == 200 || r.status == 401) << r.body;
      if (r.status == 200) {
        ++ok;
        pairs.insert(r.body);
      }
    }
    EXPECT_LE(pairs.size(), 1u) << "grace " << grace << ": two different successors";
    int live = 0;
    for (const auto& body : pairs)
      live += refresh(std::string(json::parse(body).at("refresh_token").as_string())).status == 200;
    if (grace > 0) {
      EXPECT_EQ(ok, kClients) << "every concurrent retry is inside the grace window";
      EXPECT_EQ(live, 1);
    } else {
      // The script serialises them: the first rotates, every later one is a reuse that
      // revokes the family, the first one's successor included.
      EXPECT_EQ(ok, 1);
      EXPECT_EQ(live, 0);
      EXPECT_LE(live, 1);
    }
  }
}

TEST_F(TokensTest, ConcurrentVerifyAndRevokeNeverResurrect) {
  auto t = issue("nina");
  std::atomic<bool> revoked{false};
  std::atomic<int> after_revoke_ok{0};
  std::vector<std::future<void>> fs;
  for (int i = 0; i < 8; ++i)
    fs.push_back(std::async(std::launch::async, [&] {
      for (int k = 0; k < 30; ++k) {
        bool was = revoked.load();
        if (verify(t.access).status == 200 && was) ++after_revoke_ok;
      }
    }));
  std::this_thread::sleep_for(20ms);
  ASSERT_EQ(revoke(t.access).status, 200);
  revoked = true;
  for (auto& f : fs) f.get();
  EXPECT_EQ(after_revoke_ok.load(), 0);
}

// --- faults ---------------------------------------------------------------------------------

TEST_F(TokensTest, RedisDownMeansUnavailableNeverActive) {
  auto t = issue("omar");
  rs.kill();
  for (int i = 0; i < 3; ++i) {
    auto r = verify(t.access);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(error_code(r), "unavailable");
    EXPECT_EQ(r.header("retry-after"), "1");
  }
  EXPECT_EQ(refresh(t.refresh).status, 503);
  EXPECT_EQ(revoke(t.access).status, 503) << "a revocation that was not stored is never a 200";
  EXPECT_EQ(revoke(t.refresh).status, 503);
  EXPECT_EQ(srv->post("/v1/tokens", R"({"user_id":"omar"})").status, 503);
  EXPECT_EQ(srv->del("/v1/users/omar/tokens").status, 503);
  EXPECT_EQ(srv->get("/v1/users/omar/tokens").status, 503);
  EXPECT_EQ(srv->del("/v1/users/omar/tokens/AAAAAAAAAAAAAAAAAAAAAA").status, 503);
  EXPECT_EQ(srv->get("/.well-known/jwks.json").status, 200) << "JWKS needs no Redis";
  rs.start();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline &&
         (status = srv->post("/v1/tokens", R"({"user_id":"omar"})").status) != 200)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(status, 200);
  while (std::chrono::steady_clock::now() < deadline && !srv->server().redis_ready()) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(verify(t.access).status, 200) << "revocation state is empty after a restart without persistence";
}

TEST_F(TokensTest, FrozenRedisTimesOutAsUnavailable) {
  auto t = issue("pia");
  rs.pause();
  auto r = verify(t.access);
  rs.resume();
  EXPECT_EQ(r.status, 503);
}

// F6: with replicas expected, a revocation that no replica acknowledged is not a success.
TEST_F(TokensTest, RevocationsWaitForReplicas) {
  start(jws::Alg::EdDSA, [](Config& c) {
    c.redis_wait_replicas = 1;
    // Generous: a replica's acknowledgement must arrive within it even on a loaded machine
    // (sanitizer builds in CI). The call deadline must stay above it.
    c.redis_wait_timeout = 1500ms;
    c.redis_timeout = 4000ms;
  });
  auto t = issue("quinn");
  auto r = revoke(t.access);
  EXPECT_EQ(r.status, 503) << "no replica: " << r.body;
  EXPECT_EQ(error_code(r), "unavailable");
  EXPECT_EQ(srv->del("/v1/users/quinn/tokens").status, 503);

  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(rs.port())});
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline &&
         rs.command({"INFO", "replication"}).find("state=online") == std::string::npos)
    std::this_thread::sleep_for(50ms);
  auto t2 = issue("quinn");
  r = revoke(t2.access);
  EXPECT_EQ(r.status, 200) << r.body;
  expect_invalid(t2.access);
  EXPECT_NE(replica.command({"KEYS", "lk:tj:*"}), "") << "the denylist entry reached the replica";
  EXPECT_EQ(srv->del("/v1/users/quinn/tokens").status, 200);
}

// WAIT blocks its connection until the replicas answer: the revocation and its WAIT go on
// the shard's durable link, so a WAIT that cannot be satisfied (the replica is frozen) does
// not hold up the requests pipelined on the shard's main link.
TEST_F(TokensTest, AWaitingRevocationDoesNotStallOtherRequests) {
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(rs.port())});
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline &&
         rs.command({"INFO", "replication"}).find("state=online") == std::string::npos)
    std::this_thread::sleep_for(50ms);
  start(jws::Alg::EdDSA, [](Config& c) {
    c.threads = 1;  // one shard: one main link that a stalled WAIT would block
    c.redis_wait_replicas = 1;
    c.redis_wait_timeout = 1500ms;
    c.redis_timeout = 4000ms;
  });
  auto t = issue("rhea");
  replica.pause();
  std::atomic<bool> revoke_done{false};
  auto revoking = std::async(std::launch::async, [&] {
    auto r = revoke(t.access);
    revoke_done = true;
    return r;
  });
  std::this_thread::sleep_for(100ms);  // the WAIT is now waiting for the frozen replica
  auto other = issue("sam");           // a request on the same shard, behind the WAIT in time
  EXPECT_EQ(other.access.empty(), false);
  EXPECT_FALSE(revoke_done.load()) << "answered while the WAIT still waits: it did not wait behind it";
  auto r = revoking.get();
  replica.resume();
  EXPECT_EQ(r.status, 503) << "the frozen replica did not acknowledge: " << r.body;
}

// Hardening 9: a family evicted beyond token_max_families_per_user is revoked, access tokens
// included (as token_revoke_family does), not only its refresh token.
TEST_F(TokensTest, Hardening09AnEvictedFamilyTakesItsAccessTokensWithIt) {
  start(jws::Alg::EdDSA, [](Config& c) { c.token_max_families_per_user = 2; });
  auto first = issue("kim");
  EXPECT_EQ(verify(first.access).status, 200);
  auto second = issue("kim");
  auto third = issue("kim");  // evicts the first
  EXPECT_EQ(refresh(first.refresh).status, 401);
  expect_invalid(first.access);
  EXPECT_EQ(verify(second.access).status, 200);
  EXPECT_EQ(verify(third.access).status, 200);
}
