// Access tokens, the pure part, with a fixed clock: minting, expiry and not-before with the
// leeway, claims read from the payload, key retirement and reserved claim names.
#include "latchkey/tokens.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

using namespace latchkey;
namespace jws = latchkey::crypto::jws;
namespace json = boost::json;

namespace {
constexpr std::int64_t kT = 1300819380;  // RFC 7519 3.1's exp, as a fixed "now"

std::string reason(const std::variant<tokens::AccessClaims, std::string>& r) {
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "ok";
}
}  // namespace

TEST(AccessTokens, FixedClockExpiryNotBeforeAndLeeway) {
  auto ring = crypto::SigningRing::generate(jws::Alg::HS256, kT - 1000);
  tokens::Settings s;  // ttl 900, leeway 30
  tokens::AccessTokens at(ring, s);
  tokens::Grant g;
  g.user_id = "joe";
  g.scope = "read";
  g.claims_json = R"({"http://example.com/is_root":true})";
  std::string t = at.mint(g, "jti-1", "family-1", kT);
  auto ok = at.check(t, kT, "");
  ASSERT_EQ(reason(ok), "ok");
  const auto& c = std::get<tokens::AccessClaims>(ok);
  EXPECT_EQ(c.sub, "joe");
  EXPECT_EQ(c.jti, "jti-1");
  EXPECT_EQ(c.sid, "family-1");
  EXPECT_EQ(c.iat, kT);
  EXPECT_EQ(c.exp, kT + 900);
  auto payload = json::parse(c.payload_json);
  EXPECT_TRUE(payload.at("http://example.com/is_root").as_bool());
  EXPECT_EQ(payload.at("scope").as_string(), "read");

  EXPECT_EQ(reason(at.check(t, kT + 900 + 29, "")), "ok");       // inside the leeway
  EXPECT_EQ(reason(at.check(t, kT + 900 + 30, "")), "expired");  // exp + leeway
  EXPECT_EQ(reason(at.check(t, kT - 30, "")), "ok");             // nbf - leeway
  EXPECT_EQ(reason(at.check(t, kT - 31, "")), "not_yet_valid");
  EXPECT_EQ(reason(at.check(t, kT, "someone")), "wrong_aud");
  EXPECT_EQ(reason(at.check(t, kT, std::nullopt)), "ok");
}

TEST(AccessTokens, RetiredKeysStopSigningAndStopVerifyingWhenTheyExpire) {
  auto ring = crypto::SigningRing::generate(jws::Alg::EdDSA, kT - 100);
  std::string old_kid = ring.keys()[0].key.kid();
  EXPECT_FALSE(ring.retire(old_kid, kT + 60)) << "the only key cannot retire";
  std::string new_kid = ring.add(jws::Alg::ES256, kT, kT + 600);  // published, not yet signing
  EXPECT_EQ(ring.signer(kT).kid(), old_kid);
  ASSERT_TRUE(ring.retire(old_kid, kT + 60));
  EXPECT_EQ(ring.signer(kT).kid(), new_kid) << "a retiring key never signs";
  tokens::Settings s;
  // A token of the old key: verifies until the key expires, then not (the ring survives a
  // round trip through its file format).
  std::string why;
  auto copy = crypto::SigningRing::parse(ring.serialize(), why);
  ASSERT_TRUE(copy) << why;
  std::string header = std::string(R"({"alg":"EdDSA","kid":")") + old_kid + R"(","typ":"at+jwt"})";
  std::string claims = R"({"iss":"latchkey","sub":"u","iat":)" + std::to_string(kT) + R"(,"exp":)" +
                       std::to_string(kT + 900) + R"(,"jti":"j"})";
  std::string t = jws::sign_compact(ring.keys()[0].key, header, claims);
  tokens::AccessTokens at(*copy, s);
  EXPECT_EQ(reason(at.check(t, kT + 59, "")), "ok");
  EXPECT_EQ(reason(at.check(t, kT + 60, "")), "key_expired");
  EXPECT_EQ(ring.jwks(kT).at("keys").as_array().size(), 2u);
  EXPECT_EQ(ring.jwks(kT + 60).at("keys").as_array().size(), 1u) << "an expired key leaves the JWKS";
}

TEST(AccessTokens, ReservedClaimNames) {
  for (const char* n : {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "client_id", "sid", "cnf", "typ"})
    EXPECT_TRUE(tokens::reserved_claim(n)) << n;
  for (const char* n : {"role", "tenant", "ISS", "http://example.com/is_root", ""})
    EXPECT_FALSE(tokens::reserved_claim(n)) << n;
}

namespace {
// A token with a hand-written payload, signed by the ring's key (header as latchkey writes it).
std::string signed_token(const crypto::SigningRing& ring, const std::string& payload,
                         const std::string& header_extra = "") {
  const auto& key = ring.signer(kT);
  std::string header = R"({"alg":")" + std::string(jws::alg_name(key.alg())) + R"(","kid":")" + key.kid() +
                       R"(","typ":"at+jwt")" + header_extra + "}";
  return jws::sign_compact(key, header, payload);
}
std::string claims(const tokens::Settings& s, const std::string& aud_and_more) {
  return R"({"iss":")" + s.issuer + R"(","sub":"alice","jti":"j1","iat":)" + std::to_string(kT) + R"(,"exp":)" +
         std::to_string(kT + 60) + aud_and_more + "}";
}
}  // namespace

// Hardening 16: RFC 7519 4.1.3: aud is a string or an array of strings; anything else in the
// array makes the claim (and the token) malformed, whichever member matches.
TEST(AccessTokens, Hardening16AudArrayWithANonStringMemberIsRefused) {
  auto ring = crypto::SigningRing::generate(jws::Alg::HS256, kT - 1000);
  tokens::Settings s;
  tokens::AccessTokens at(ring, s);
  EXPECT_EQ(reason(at.check(signed_token(ring, claims(s, R"(,"aud":["https://api","other"])")), kT, "https://api")),
            "ok");
  for (const char* bad :
       {R"(,"aud":["https://api",123])", R"(,"aud":[123,"https://api"])", R"(,"aud":["https://api",null])",
        R"(,"aud":["https://api",["x"]])", R"(,"aud":["https://api",{"a":1}])", R"(,"aud":["https://api",true])",
        R"(,"aud":["https://api",1.5])", R"(,"aud":7)"})
    EXPECT_EQ(reason(at.check(signed_token(ring, claims(s, bad)), kT, "https://api")), "wrong_aud") << bad;
}

// Hardening 17: a repeated member name in the claims or the header refuses the token (RFC 7515
// 4, RFC 7519 4): a gateway that reads the first "sub" would see another user.
TEST(AccessTokens, Hardening17DuplicateMemberNamesAreRefused) {
  auto ring = crypto::SigningRing::generate(jws::Alg::HS256, kT - 1000);
  tokens::Settings s;
  tokens::AccessTokens at(ring, s);
  EXPECT_EQ(reason(at.check(signed_token(ring, claims(s, "")), kT, "")), "ok");
  EXPECT_NE(reason(at.check(signed_token(ring, claims(s, R"(,"sub":"mallory")")), kT, "")), "ok");
  EXPECT_NE(reason(at.check(signed_token(ring, claims(s, R"(,"x":{"a":1,"a":2})")), kT, "")), "ok") << "nested, too";
  EXPECT_NE(reason(at.check(signed_token(ring, claims(s, R"(,"s\u0075b":"mallory")")), kT, "")), "ok") << "escaped";
  EXPECT_NE(reason(at.check(signed_token(ring, claims(s, ""), R"(,"typ":"at+jwt")"), kT, "")), "ok") << "header";
  EXPECT_EQ(reason(at.check(signed_token(ring, claims(s, R"(,"x":{"a":1},"y":{"a":2})")), kT, "")), "ok")
      << "the same name in two objects is fine";
}
