// DPoP (RFC 9449) over real HTTP against a real Redis: bound access tokens (opaque and JWT,
// cnf.jkt), token_type DPoP, public clients' bound refresh tokens, clients that require DPoP,
// the jti replay cache, server nonces, proofs at /oauth2/userinfo and /v1/tokens/verify, every
// kind of bad proof refused with nothing issued, and Redis outages.
#include "latchkey/crypto/jws.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/clock.hpp"
#include "latchkey/dpop.hpp"
#include "latchkey/metrics.hpp"

#include "support/oauth_support.hpp"

#include <gtest/gtest.h>

using namespace latchkey;
using namespace latchkey::test;
namespace json = boost::json;
using crypto::jws::Alg;

namespace {

const std::string kIssuer = "https://auth.example";
const std::string kTokenUrl = kIssuer + "/oauth2/token";
const std::string kUserinfoUrl = kIssuer + "/oauth2/userinfo";

class DpopTest : public OAuthHttpTest {
 protected:
  void SetUp() override {
    start([](Config& c) { c.token_issuer = kIssuer; });
  }
  HttpResult token_with(const ClientCreds& c, const std::string& body, const std::string& proof) {
    std::map<std::string, std::string> h;
    if (!proof.empty()) h["DPoP"] = proof;
    return form("/oauth2/token", body, c, h);
  }
  std::string code_body(const std::string& code) {
    return "grant_type=authorization_code&code=" + form_escape(code) + "&redirect_uri=" + form_escape(kRedirect) +
           "&code_verifier=" + kVerifier;
  }
  HttpResult userinfo(const std::string& scheme, const std::string& token, const std::string& proof) {
    std::map<std::string, std::string> h{{"Authorization", scheme + " " + token}};
    if (!proof.empty()) h["DPoP"] = proof;
    return srv->get("/oauth2/userinfo", h);
  }
  ClientCreds openid_client(const std::string& extra = "") {
    return register_client(R"({"client_name":"Shop","redirect_uris":[")" + kRedirect +
                           R"("],"grant_types":["authorization_code","refresh_token","client_credentials"],)"
                           R"("scope":"openid read")" +
                           extra + "}");
  }
  ClientCreds public_openid_client() {
    auto c = register_client(R"({"client_name":"App","redirect_uris":[")" + kRedirect +
                             R"("],"grant_types":["authorization_code","refresh_token"],)"
                             R"("scope":"openid read","token_endpoint_auth_method":"none"})");
    return c;
  }
  HttpResult public_token(const std::string& client_id, const std::string& body, const std::string& proof) {
    std::map<std::string, std::string> h{{"Content-Type", "application/x-www-form-urlencoded"}, {"Authorization", ""}};
    if (!proof.empty()) h["DPoP"] = proof;
    return srv->post("/oauth2/token", body + "&client_id=" + client_id, h);
  }
  ProofKey k;
};

}  // namespace

TEST_F(DpopTest, ABoundTokenSaysSoAndWorksOnlyWithProofsByItsKey) {
  auto c = openid_client();
  auto r = token_with(c, code_body(code_for(c.id, R"({"scope":"openid read"})")), k.proof("POST", kTokenUrl));
  ASSERT_EQ(r.status, 200) << r.body;
  auto t = obj(r);
  EXPECT_EQ(str(t, "token_type"), "DPoP");
  std::string at = str(t, "access_token");
  // Introspection says whose key (RFC 9449 6.2).
  auto i = obj(introspect(c, at));
  EXPECT_TRUE(i.at("active").as_bool());
  EXPECT_EQ(str(i, "token_type"), "DPoP");
  EXPECT_EQ(str(i.at("cnf").as_object(), "jkt"), k.thumbprint());

  // The resource: DPoP scheme with a proof by the key, for this request and this token.
  auto ok = userinfo("DPoP", at, k.proof("GET", kUserinfoUrl, at));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(str(obj(ok), "sub"), "alice");
  ProofKey other;
  const crypto::jws::Key other_key = crypto::jws::Key::generate(Alg::ES256, "x");
  struct Case {
    const char* why;
    std::string scheme, proof, error;
  };
  const Case cases[] = {
      {"as Bearer", "Bearer", "", "invalid_token"},
      {"as Bearer with a proof", "Bearer", k.proof("GET", kUserinfoUrl, at), "invalid_token"},
      {"no proof", "DPoP", "", "invalid_dpop_proof"},
      {"another key", "DPoP", other.proof("GET", kUserinfoUrl, at), "invalid_dpop_proof"},
      {"another URL", "DPoP", k.proof("GET", kIssuer + "/oauth2/other", at), "invalid_dpop_proof"},
      {"another method", "DPoP", k.proof("POST", kUserinfoUrl, at), "invalid_dpop_proof"},
      {"no ath", "DPoP", k.proof("GET", kUserinfoUrl), "invalid_dpop_proof"},
      {"another token's ath", "DPoP", k.proof("GET", kUserinfoUrl, at + "x"), "invalid_dpop_proof"},
      {"signed by another key", "DPoP", k.proof("GET", kUserinfoUrl, at, {}, &other_key), "invalid_dpop_proof"},
  };
  for (const auto& x : cases) {
    auto bad = userinfo(x.scheme, at, x.proof);
    EXPECT_EQ(bad.status, 401) << x.why << ": " << bad.body;
    EXPECT_EQ(error_code(bad), x.error) << x.why;
    EXPECT_TRUE(bad.header("www-authenticate").starts_with("DPoP ")) << x.why << ": " << bad.header("www-authenticate");
  }
  // An unbound token is not accepted under the DPoP scheme.
  auto plain = obj(form("/oauth2/token", code_body(code_for(c.id, R"({"scope":"openid"})")), c));
  EXPECT_EQ(str(plain, "token_type"), "Bearer");
  EXPECT_EQ(
      userinfo("DPoP", str(plain, "access_token"), k.proof("GET", kUserinfoUrl, str(plain, "access_token"))).status,
      401);
  EXPECT_FALSE(obj(introspect(c, str(plain, "access_token"))).contains("cnf"));
}

TEST_F(DpopTest, BadProofsAtTheTokenEndpointAreRefusedAndIssueNothing) {
  auto c = openid_client();
  const crypto::jws::Key hs = *crypto::jws::Key::from_secret("h", std::string(32, 's'));
  const crypto::jws::Key other_key = crypto::jws::Key::generate(Alg::ES256, "x");
  const ProofKey ed(Alg::EdDSA);
  const std::string replayed = k.proof("POST", kTokenUrl);
  ASSERT_EQ(token_with(c, "grant_type=client_credentials", replayed).status, 200);
  const int before = count("ta");
  using Edit = std::function<void(json::object&, json::object&)>;
  struct Case {
    const char* why;
    std::string proof;
  };
  auto edited = [&](const Edit& e) { return k.proof("POST", kTokenUrl, "", e); };
  const Case cases[] = {
      {"replayed (same jti)", replayed},
      {"for another URL", k.proof("POST", "https://other.example/oauth2/token")},
      {"for another method", k.proof("GET", kTokenUrl)},
      {"signed by another key", k.proof("POST", kTokenUrl, "", {}, &other_key)},
      {"too old", edited([](auto&, auto& cl) { cl["iat"] = unix_now() - 600; })},
      {"from the future", edited([](auto&, auto& cl) { cl["iat"] = unix_now() + 600; })},
      {"iat a string", edited([](auto&, auto& cl) { cl["iat"] = "now"; })},
      {"no jti", edited([](auto&, auto& cl) { cl.erase("jti"); })},
      {"jti too long", edited([](auto&, auto& cl) { cl["jti"] = std::string(200, 'j'); })},
      {"no htm", edited([](auto&, auto& cl) { cl.erase("htm"); })},
      {"no htu", edited([](auto&, auto& cl) { cl.erase("htu"); })},
      {"typ JWT", edited([](auto& h, auto&) { h["typ"] = "JWT"; })},
      {"no typ", edited([](auto& h, auto&) { h.erase("typ"); })},
      {"no jwk", edited([](auto& h, auto&) { h.erase("jwk"); })},
      {"a kid instead", edited([](auto& h, auto&) { h["kid"] = "k"; })},
      {"crit", edited([](auto& h, auto&) { h["crit"] = json::array{"x"}; })},
      {"alg none", edited([](auto& h, auto&) { h["alg"] = "none"; })},
      {"alg of another key type", edited([](auto& h, auto&) { h["alg"] = "EdDSA"; })},
      {"a private jwk", edited([](auto& h, auto&) { h["jwk"].as_object()["d"] = "AAAA"; })},
      {"HS256 with a symmetric jwk",
       crypto::jws::sign_compact(
           hs,
           R"({"typ":"dpop+jwt","alg":"HS256","jwk":{"kty":"oct","k":"c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3M"}})",
           json::serialize(json::object{{"jti", "a"}, {"htm", "POST"}, {"htu", kTokenUrl}, {"iat", unix_now()}}))},
      {"not a JWS", "not-a-proof"},
      {"four segments", replayed + ".x"},
      {"oversize", std::string(5000, 'a') + "." + std::string(10, 'b') + "." + std::string(10, 'c')},
      {"header not JSON", crypto::base64url_encode(std::string_view("nope")) + ".e30.AAAA"},
      {"wrong-typed claims", edited([](auto&, auto& cl) { cl["htm"] = json::array{"POST"}; })},
  };
  for (const auto& x : cases) {
    auto r = token_with(c, "grant_type=client_credentials", x.proof);
    EXPECT_EQ(r.status, 400) << x.why << ": " << r.body;
    EXPECT_EQ(error_code(r), "invalid_dpop_proof") << x.why;
  }
  EXPECT_EQ(count("ta"), before) << "no token was issued";
  // An EdDSA proof is as good as ES256 (and RS256: the interop test).
  auto e = token_with(c, "grant_type=client_credentials", ed.proof("POST", kTokenUrl));
  EXPECT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(str(obj(e), "token_type"), "DPoP");
  // ... under its fully-specified name too (RFC 9864; oauth4webapi sends it).
  auto full = token_with(c, "grant_type=client_credentials",
                         ed.proof("POST", kTokenUrl, "", [](auto& h, auto&) { h["alg"] = "Ed25519"; }));
  EXPECT_EQ(full.status, 200) << full.body;
  // htu comparison ignores query and fragment, case of scheme and host, and the default port.
  auto n = token_with(c, "grant_type=client_credentials", k.proof("POST", "HTTPS://Auth.Example:443/oauth2/token?x#y"));
  EXPECT_EQ(n.status, 200) << n.body;
  EXPECT_GE(security_events(SecurityEvent::dpop_proof_replayed), 1u);
}

TEST_F(DpopTest, APublicClientsRefreshTokenIsBoundToItsKey) {
  auto c = public_openid_client();
  auto first = public_token(c.id, code_body(code_for(c.id, R"({"scope":"openid read"})")), k.proof("POST", kTokenUrl));
  ASSERT_EQ(first.status, 200) << first.body;
  std::string rt = str(obj(first), "refresh_token");
  ASSERT_FALSE(rt.empty());
  ProofKey other;
  const std::string body = "grant_type=refresh_token&refresh_token=" + form_escape(rt);
  for (const auto& proof : {std::string(), other.proof("POST", kTokenUrl)}) {
    auto r = public_token(c.id, body, proof);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(error_code(r), "invalid_grant");
  }
  auto ok = public_token(c.id, body, k.proof("POST", kTokenUrl));
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto t = obj(ok);
  EXPECT_EQ(str(t, "token_type"), "DPoP");
  EXPECT_FALSE(str(t, "id_token").empty());
  // The new refresh token is bound to the same key.
  auto next = public_token(c.id, "grant_type=refresh_token&refresh_token=" + form_escape(str(t, "refresh_token")),
                           other.proof("POST", kTokenUrl));
  EXPECT_EQ(next.status, 400) << next.body;
}

TEST_F(DpopTest, AConfidentialClientMayRefreshWithOrWithoutAProofAndAClientMayRequireIt) {
  auto c = openid_client();
  auto t = obj(token_with(c, code_body(code_for(c.id)), k.proof("POST", kTokenUrl)));
  ASSERT_EQ(str(t, "token_type"), "DPoP");
  auto bearer = refresh(c, str(t, "refresh_token"));
  ASSERT_EQ(bearer.status, 200) << bearer.body;
  EXPECT_EQ(str(obj(bearer), "token_type"), "Bearer");

  auto strict = openid_client(R"(,"dpop_bound_access_tokens":true)");
  auto got = json_of(srv->get("/v1/oauth/clients/" + strict.id));
  EXPECT_TRUE(got.at("dpop_bound_access_tokens").as_bool());
  auto no_proof = form("/oauth2/token", "grant_type=client_credentials", strict);
  EXPECT_EQ(no_proof.status, 400) << no_proof.body;
  EXPECT_EQ(error_code(no_proof), "invalid_dpop_proof");
  const int before = count("ac");
  auto code = code_for(strict.id);
  EXPECT_EQ(form("/oauth2/token", code_body(code), strict).status, 400);
  EXPECT_EQ(count("ac"), before + 1) << "the code is not spent by a refused request";
  auto with = token_with(strict, code_body(code), k.proof("POST", kTokenUrl));
  EXPECT_EQ(with.status, 200) << with.body;
  EXPECT_EQ(str(obj(with), "token_type"), "DPoP");
  // Registration input.
  for (const char* bad : {R"({"grant_types":["client_credentials"],"dpop_bound_access_tokens":"yes"})",
                          R"({"grant_types":["client_credentials"],"dpop_bound_access_tokens":1})"}) {
    auto r = srv->post("/v1/oauth/clients", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(error_code(r), "invalid_client_metadata");
  }
}

TEST_F(DpopTest, JwtAccessTokensCarryCnfAndTheVerifyEndpointChecksTheProof) {
  start([](Config& cfg) {
    cfg.token_issuer = kIssuer;
    cfg.oauth_access_token_format = "jwt";
  });
  auto c = openid_client();
  auto t = obj(token_with(c, "grant_type=client_credentials&scope=read", k.proof("POST", kTokenUrl)));
  std::string at = str(t, "access_token");
  auto payload = json::parse(*crypto::base64url_decode(at.substr(at.find('.') + 1, at.rfind('.') - at.find('.') - 1)));
  EXPECT_EQ(payload.at("cnf").at("jkt").as_string(), k.thumbprint());

  const std::string api = "https://api.example/orders?id=7";
  auto verify = [&](const std::string& extra) {
    return srv->post("/v1/tokens/verify", R"({"token":")" + at + R"(","accept_oauth":true)" + extra + "}");
  };
  auto with = [&](const std::string& proof, const std::string& htm = "GET",
                  const std::string& htu = "https://api.example/orders?id=7") {
    return verify(R"(,"dpop":")" + proof + R"(","htm":")" + htm + R"(","htu":")" + htu + "\"");
  };
  auto none = verify("");
  EXPECT_EQ(none.status, 401) << "a bound token without a proof is not active: " << none.body;
  const std::string good = k.proof("GET", api, at);
  auto ok = with(good);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json_of(ok).at("claims").at("cnf").at("jkt").as_string(), k.thumbprint());
  EXPECT_EQ(with(good).status, 401) << "replayed";
  EXPECT_EQ(with(k.proof("GET", api, at), "POST").status, 401) << "the request was another method";
  EXPECT_EQ(with(k.proof("GET", api, at), "GET", "https://api.example/admin").status, 401) << "another URL";
  ProofKey other;
  EXPECT_EQ(with(other.proof("GET", api, at)).status, 401) << "another key";
  EXPECT_EQ(with(k.proof("GET", api)).status, 401) << "no ath";
  for (const char* bad : {R"(,"dpop":7,"htm":"GET","htu":"https://a.example/")", R"(,"dpop":"x.y.z")",
                          R"(,"dpop":"x.y.z","htm":"get","htu":"https://a.example/")",
                          R"(,"dpop":"x.y.z","htm":"GET","htu":"ftp://a.example/")", R"(,"htm":"GET")"}) {
    auto r = verify(bad);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(error_code(r), "invalid_request");
  }
}

TEST_F(DpopTest, ServerNoncesAreDemandedAndAccepted) {
  start([](Config& cfg) {
    cfg.token_issuer = kIssuer;
    cfg.oauth_dpop_nonce = true;
  });
  auto c = openid_client();
  auto first = token_with(c, "grant_type=client_credentials", k.proof("POST", kTokenUrl));
  EXPECT_EQ(first.status, 400) << first.body;
  EXPECT_EQ(error_code(first), "use_dpop_nonce");
  std::string nonce = first.header("dpop-nonce");
  ASSERT_FALSE(nonce.empty());
  EXPECT_TRUE(dpop::valid_nonce_syntax(nonce)) << nonce;
  for (const std::string& bad : {std::string("made-up"), nonce.substr(0, nonce.size() - 2) + "AA"}) {
    auto r = token_with(c, "grant_type=client_credentials",
                        k.proof("POST", kTokenUrl, "", [&](auto&, auto& cl) { cl["nonce"] = bad; }));
    EXPECT_EQ(error_code(r), "use_dpop_nonce") << bad;
  }
  auto ok = token_with(c, "grant_type=client_credentials",
                       k.proof("POST", kTokenUrl, "", [&](auto&, auto& cl) { cl["nonce"] = nonce; }));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_FALSE(ok.header("dpop-nonce").empty()) << "the next nonce comes with the answer";
  // The resource asks for it too.
  std::string at = str(obj(ok), "access_token");
  auto r = userinfo("DPoP", at, k.proof("GET", kUserinfoUrl, at));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(error_code(r), "use_dpop_nonce");
  EXPECT_FALSE(r.header("dpop-nonce").empty());
}

TEST_F(DpopTest, RedisDownMeansNoBoundTokenAnd503) {
  auto c = openid_client();
  rs.kill();
  auto r = token_with(c, "grant_type=client_credentials", k.proof("POST", kTokenUrl));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.body.find("access_token"), std::string::npos);
  rs.start();
}

TEST_F(DpopTest, DpopNeedsAnIssuerThatIsThisServersUrl) {
  start();
  auto c = openid_client();
  auto r = token_with(c, "grant_type=client_credentials", k.proof("POST", "latchkey/oauth2/token"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_code(r), "invalid_dpop_proof");
  EXPECT_NE(r.body.find("token_issuer"), std::string::npos);
}
