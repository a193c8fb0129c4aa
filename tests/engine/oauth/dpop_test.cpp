// DPoP proofs (RFC 9449), the pure part: the RFC 7638 thumbprint vector, htu comparison, and
// dpop::check on proofs signed here (every refusal reason; the HTTP tests check the wire).
#include "latchkey/crypto/jws.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/dpop.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

using namespace latchkey;
namespace json = boost::json;
using crypto::jws::Alg;

namespace {

const std::string kUrl = "https://auth.example/oauth2/token";
constexpr std::int64_t kNow = 1700000000;

json::object public_jwk(const crypto::jws::Key& k) {
  auto j = *k.public_jwk();
  j.erase("kid");
  return j;
}

std::string proof(const crypto::jws::Key& k, const std::function<void(json::object&, json::object&)>& edit = {}) {
  json::object h{{"typ", "dpop+jwt"}, {"alg", crypto::jws::alg_name(k.alg())}, {"jwk", public_jwk(k)}};
  json::object c{{"jti", "j1"}, {"htm", "POST"}, {"htu", kUrl}, {"iat", kNow}};
  if (edit) edit(h, c);
  return crypto::jws::sign_compact(k, json::serialize(h), json::serialize(c));
}

std::string why(const std::variant<dpop::Proof, std::string>& r) {
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "accepted";
}

dpop::Expect expect(std::string_view token = {}) {
  dpop::Expect e;
  e.method = "POST";
  e.url = kUrl;
  e.access_token = token;
  e.now = kNow;
  return e;
}

}  // namespace

TEST(Dpop, Rfc7638ThumbprintVector) {
  // RFC 7638 3.1: the example RSA key and its thumbprint.
  auto jwk =
      json::parse(
          R"({"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"})")
          .as_object();
  EXPECT_EQ(dpop::thumbprint(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  // Members other than the required ones do not change it; a missing one or another kty has none.
  jwk["use"] = "sig";
  EXPECT_EQ(dpop::thumbprint(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  jwk.erase("e");
  EXPECT_FALSE(dpop::thumbprint(jwk));
  EXPECT_FALSE(dpop::thumbprint(json::object{{"kty", "oct"}, {"k", "AAAA"}}));
}

TEST(Dpop, HtuComparisonIgnoresWhatRfc9449SaysTo) {
  EXPECT_TRUE(dpop::same_url(kUrl, "HTTPS://AUTH.example:443/oauth2/token?x=1#f"));
  EXPECT_TRUE(dpop::same_url("http://127.0.0.1:80/a", "http://127.0.0.1/a"));
  EXPECT_TRUE(dpop::same_url("https://[::1]:8443/t", "https://[::1]:8443/t"));
  EXPECT_TRUE(dpop::same_url("https://a.example", "https://a.example/"));
  for (const char* other : {"https://auth.example/oauth2/token/", "https://auth.example/OAUTH2/token",
                            "http://auth.example/oauth2/token", "https://auth.example:8443/oauth2/token",
                            "https://evil.example/oauth2/token", "https://user@auth.example/oauth2/token",
                            "auth.example/oauth2/token", "ftp://auth.example/oauth2/token", "", "https://"})
    EXPECT_FALSE(dpop::same_url(kUrl, other)) << other;
}

TEST(Dpop, AProofIsCheckedAgainstItsRequest) {
  for (Alg alg : {Alg::ES256, Alg::EdDSA, Alg::RS256}) {
    auto k = crypto::jws::Key::generate(alg, "k");
    auto ok = dpop::check(proof(k), expect());
    ASSERT_EQ(why(ok), "accepted") << crypto::jws::alg_name(alg);
    EXPECT_EQ(std::get<dpop::Proof>(ok).jkt, dpop::thumbprint(public_jwk(k)));
    EXPECT_EQ(std::get<dpop::Proof>(ok).jti, "j1");
  }
  auto k = crypto::jws::Key::generate(Alg::ES256, "k");
  auto other = crypto::jws::Key::generate(Alg::ES256, "o");
  using Edit = std::function<void(json::object&, json::object&)>;
  const std::pair<const char*, Edit> cases[] = {
      {"wrong_typ", [](auto& h, auto&) { h["typ"] = "jwt"; }},
      {"alg_not_allowed", [](auto& h, auto&) { h["alg"] = "HS256"; }},
      {"alg_not_allowed", [](auto& h, auto&) { h["alg"] = "none"; }},
      {"forbidden_header", [](auto& h, auto&) { h["kid"] = "k"; }},
      {"forbidden_header", [](auto& h, auto&) { h["x5c"] = json::array{}; }},
      {"no_jwk", [](auto& h, auto&) { h["jwk"] = "x"; }},
      {"private_jwk", [](auto& h, auto&) { h["jwk"].as_object()["d"] = "AAAA"; }},
      {"jwk_alg_mismatch", [](auto& h, auto&) { h["alg"] = "RS256"; }},
      {"missing_claim", [](auto&, auto& c) { c.erase("jti"); }},
      {"missing_claim", [](auto&, auto& c) { c["iat"] = 1.5; }},
      {"missing_claim", [](auto&, auto& c) { c["jti"] = ""; }},
      {"wrong_htm", [](auto&, auto& c) { c["htm"] = "post"; }},
      {"wrong_htu", [](auto&, auto& c) { c["htu"] = "https://auth.example/oauth2/revoke"; }},
      {"issued_in_future", [](auto&, auto& c) { c["iat"] = kNow + 6; }},
      {"too_old", [](auto&, auto& c) { c["iat"] = kNow - 66; }},
      {"bad_nonce", [](auto&, auto& c) { c["nonce"] = "a b\\"; }},
  };
  for (const auto& [reason, edit] : cases) EXPECT_EQ(why(dpop::check(proof(k, edit), expect())), reason);
  // Within the window at both ends (5 s ahead, 60 + 5 s back).
  EXPECT_EQ(why(dpop::check(proof(k, [](auto&, auto& c) { c["iat"] = kNow + 5; }), expect())), "accepted");
  EXPECT_EQ(why(dpop::check(proof(k, [](auto&, auto& c) { c["iat"] = kNow - 65; }), expect())), "accepted");
  // Signed by another key than its jwk names.
  json::object h{{"typ", "dpop+jwt"}, {"alg", "ES256"}, {"jwk", public_jwk(k)}};
  json::object c{{"jti", "j"}, {"htm", "POST"}, {"htu", kUrl}, {"iat", kNow}};
  EXPECT_EQ(why(dpop::check(crypto::jws::sign_compact(other, json::serialize(h), json::serialize(c)), expect())),
            "bad_signature");
  // With an access token: ath must be its hash.
  EXPECT_EQ(why(dpop::check(proof(k), expect("tok"))), "wrong_ath");
  EXPECT_EQ(
      why(dpop::check(proof(k, [](auto&, auto& cl) { cl["ath"] = dpop::access_token_hash("tok"); }), expect("tok"))),
      "accepted");
  EXPECT_EQ(why(dpop::check(std::string(dpop::kMaxProofBytes + 1, 'a'), expect())), "too_large");
  EXPECT_EQ(why(dpop::check("a.b", expect())), "malformed");
  EXPECT_EQ(why(dpop::check("", expect())), "missing");
  EXPECT_TRUE(dpop::valid_nonce_syntax("abc-_.~!#$"));
  EXPECT_FALSE(dpop::valid_nonce_syntax("a\"b"));
  EXPECT_FALSE(dpop::valid_nonce_syntax(""));
}
