// OpenID Connect, the pure part: login checks, released claims by scope, at_hash, and the ID
// token as minted (verified with the ring's own keys).
#include "latchkey/crypto/jws.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/oauth.hpp"
#include "latchkey/oidc.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

using namespace latchkey;
namespace json = boost::json;

TEST(Oidc, ReleasedClaimsFollowTheScopes) {
  const std::string claims =
      R"({"name":"A","email":"a@example.com","email_verified":true,"phone_number":"1","address":{"country":"NZ"}})";
  EXPECT_EQ(json::serialize(oidc::released_claims(claims, "openid")), "{}");
  EXPECT_EQ(json::serialize(oidc::released_claims(claims, "openid email")),
            R"({"email":"a@example.com","email_verified":true})");
  EXPECT_EQ(json::serialize(oidc::released_claims(claims, "profile phone address")),
            R"({"name":"A","phone_number":"1","address":{"country":"NZ"}})");
  // Whether a grant is an OpenID one is oauth::scope_within("openid", scope).
  EXPECT_TRUE(oauth::scope_within("openid", "a openid b"));
  EXPECT_FALSE(oauth::scope_within("openid", "openidx"));
}

TEST(Oidc, LoginChecks) {
  oidc::Login l;
  EXPECT_FALSE(oidc::check(l, 1000, 30));
  l.auth_time = 1031;
  EXPECT_TRUE(oidc::check(l, 1000, 30));
  l.auth_time = 1030;
  EXPECT_FALSE(oidc::check(l, 1000, 30));
  l.claims_json = R"({"sub":"x"})";
  EXPECT_TRUE(oidc::check(l, 1000, 30));
  l.claims_json = R"({"email_verified":"true"})";
  EXPECT_TRUE(oidc::check(l, 1000, 30));
  l.claims_json = R"({"email_verified":true,"updated_at":5})";
  EXPECT_FALSE(oidc::check(l, 1000, 30));
  l.nonce = std::string(513, 'n');
  EXPECT_TRUE(oidc::check(l, 1000, 30));
}

TEST(Oidc, StoredLoginReadsBackWithoutItsNonce) {
  oidc::Login l;
  l.nonce = "n";
  l.auth_time = 7;
  l.acr = "urn:x";
  l.amr = {"pwd", "otp"};
  l.claims_json = R"({"email":"a@example.com"})";
  auto back = oidc::from_stored_json(oidc::stored_json(l));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->nonce, "");
  EXPECT_EQ(back->auth_time, 7);
  EXPECT_EQ(back->acr, "urn:x");
  EXPECT_EQ(back->amr, l.amr);
  EXPECT_EQ(back->claims_json, l.claims_json);
  EXPECT_FALSE(oidc::from_stored_json("[]"));
  EXPECT_FALSE(oidc::from_stored_json(R"({"at":"x","cl":"{}"})"));
}

TEST(Oidc, AtHashIsTheLeftHalfOfTheAlgorithmsHash) {
  // OIDC Core 3.1.3.6 with SHA-256: 16 bytes (22 characters); EdDSA (Ed25519): SHA-512, 32 bytes.
  auto full = crypto::sha256(std::string_view("token"));
  EXPECT_EQ(oidc::left_half_hash("token", crypto::jws::Alg::ES256),
            crypto::base64url_encode(crypto::bytes_view(full.data(), 16)));
  EXPECT_EQ(oidc::left_half_hash("token", crypto::jws::Alg::EdDSA).size(), 43u);
}

TEST(Oidc, AnIdTokenVerifiesWithTheRingAndAnHs256RingMintsNone) {
  for (auto alg : {crypto::jws::Alg::EdDSA, crypto::jws::Alg::ES256, crypto::jws::Alg::RS256}) {
    auto ring = crypto::SigningRing::generate(alg, 1000);
    oidc::IdTokenInput in;
    in.issuer = "https://auth.example";
    in.subject = "alice";
    in.client_id = "client";
    in.sid = "fam";
    in.access_token = "at";
    in.scope = "openid email";
    in.login.nonce = "n";
    in.login.claims_json = R"({"email":"a@example.com","name":"A"})";
    in.iat = 1000;
    in.ttl = 300;
    auto t = oidc::mint_id_token(ring, in);
    ASSERT_TRUE(t);
    auto r = crypto::jws::Verifier(ring.verification_keys()).verify(*t);
    auto* v = std::get_if<crypto::jws::Verified>(&r);
    ASSERT_TRUE(v) << crypto::jws::alg_name(alg);
    EXPECT_EQ(v->header.at("typ").as_string(), "JWT");
    EXPECT_EQ(v->claims.at("aud").as_string(), "client");
    EXPECT_EQ(v->claims.at("exp").as_int64(), 1300);
    EXPECT_EQ(v->claims.at("at_hash").as_string(), oidc::left_half_hash("at", alg));
    EXPECT_EQ(v->claims.at("email").as_string(), "a@example.com");
    EXPECT_FALSE(v->claims.contains("name")) << "profile not granted";
    EXPECT_EQ(oidc::signing_algs(ring, 1000), std::vector<std::string>{crypto::jws::alg_name(alg)});
  }
  auto hs = crypto::SigningRing::generate(crypto::jws::Alg::HS256, 1000);
  EXPECT_FALSE(oidc::mint_id_token(hs, oidc::IdTokenInput{}));
  EXPECT_TRUE(oidc::signing_algs(hs, 1000).empty());
}
