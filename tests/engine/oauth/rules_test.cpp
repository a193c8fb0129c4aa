// OAuth rules without I/O: redirect URI registration and exact matching (RFC 9700 2.1, the
// RFC 8252 loopback port exception), scopes, PKCE (RFC 7636 Appendix B), query building.
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/oauth.hpp"

#include "support/vectors.hpp"

#include <gtest/gtest.h>

using namespace latchkey::oauth;

TEST(OAuthRules, Rfc7636AppendixBThroughOurPkceCheck) {
  auto doc = latchkey::test::load_vector("rfc7636_appendixB_pkce.json");
  std::string verifier(doc.at("code_verifier").as_string());
  EXPECT_TRUE(valid_code_verifier(verifier));
  EXPECT_EQ(s256_challenge(verifier), doc.at("code_challenge").as_string());
  const auto& neg = doc.at("derived_negative_cases (not in the RFC; for tests)").as_object();
  EXPECT_FALSE(valid_code_verifier(neg.at("verifier_too_short_42").as_string()));
  EXPECT_TRUE(valid_code_verifier(neg.at("verifier_max_len_128_valid_charset").as_string()));
  EXPECT_FALSE(valid_code_verifier(neg.at("verifier_129_too_long").as_string()));
  EXPECT_FALSE(valid_code_verifier(neg.at("verifier_bad_char_plus").as_string()));
  EXPECT_TRUE(valid_code_verifier(neg.at("verifier_min_len_43_valid").as_string()));
  // plain downgrade: the challenge itself as verifier does not hash to the challenge.
  std::string challenge(neg.at("plain_downgrade_verifier_equal_to_challenge").as_string());
  EXPECT_NE(s256_challenge(challenge), challenge);
}

TEST(OAuthRules, RegistrableRedirectUris) {
  for (const char* ok : {"https://client.example/cb", "https://client.example:8443/cb?x=1", "http://127.0.0.1/cb",
                         "http://127.0.0.1:51004/cb", "http://[::1]:8080/cb", "http://localhost:3000/callback"})
    EXPECT_TRUE(valid_redirect_uri(ok)) << ok;
  for (const char* bad :
       {"", "http://client.example/cb", "https://client.example/cb#frag", "client.example/cb",
        "https://user:pass@client.example/cb", "https:///cb", "https://client.example/c b", "javascript:alert(1)",
        "https://client.example:99999/cb", "ftp://client.example/cb", "http://127.0.0.1.evil.example/cb"}) {
    std::string why;
    EXPECT_FALSE(valid_redirect_uri(bad, &why)) << bad;
    EXPECT_FALSE(why.empty());
  }
  EXPECT_FALSE(valid_redirect_uri("https://client.example/" + std::string(2000, 'a')));
}

TEST(OAuthRules, RedirectUrisMatchExactlyExceptTheLoopbackPort) {
  const std::string reg = "https://client.example/cb";
  EXPECT_TRUE(redirect_uri_matches(reg, reg));
  for (const char* bad :
       {"https://client.example/cb/../x", "https://client.example/cb?extra=1", "https://CLIENT.example/cb",
        "https://client.example/CB", "https://client.example/cb/", "https://client.example:443/cb",
        "http://client.example/cb", "https://client.example/cb#x", "https://client.example.evil/cb"})
    EXPECT_FALSE(redirect_uri_matches(reg, bad)) << bad;
  // RFC 8252 7.3: loopback, any port; nothing else may differ.
  EXPECT_TRUE(redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb"));
  EXPECT_TRUE(redirect_uri_matches("http://127.0.0.1:8000/cb", "http://127.0.0.1:9000/cb"));
  EXPECT_TRUE(redirect_uri_matches("http://[::1]/cb", "http://[::1]:6000/cb"));
  EXPECT_FALSE(redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:51004/other"));
  EXPECT_FALSE(redirect_uri_matches("http://127.0.0.1/cb", "http://[::1]:51004/cb"));
  EXPECT_FALSE(redirect_uri_matches("http://127.0.0.1/cb", "https://127.0.0.1:51004/cb"));
  EXPECT_FALSE(redirect_uri_matches("https://client.example/cb", "https://client.example:8443/cb"));
}

TEST(OAuthRules, Scopes) {
  EXPECT_TRUE(valid_scope("read"));
  EXPECT_TRUE(valid_scope("read write orders:read"));
  for (const char* bad : {"", " read", "read ", "read  write", "a\"b", "a\\b", "caf\xc3\xa9"})
    EXPECT_FALSE(valid_scope(bad)) << bad;
  EXPECT_TRUE(scope_within("read", "read write"));
  EXPECT_TRUE(scope_within("write read", "read write"));
  EXPECT_FALSE(scope_within("read admin", "read write"));
  EXPECT_FALSE(scope_within("rea", "read write"));
  EXPECT_FALSE(scope_within("read", ""));
}

TEST(OAuthRules, AddQueryEncodesValues) {
  EXPECT_EQ(add_query("https://c.example/cb", {{"code", "abc"}, {"state", "x y&z=1"}}),
            "https://c.example/cb?code=abc&state=x%20y%26z%3D1");
  EXPECT_EQ(add_query("https://c.example/cb?a=1", {{"code", "abc"}}), "https://c.example/cb?a=1&code=abc");
  EXPECT_EQ(add_query("https://c.example/cb?", {{"code", "abc"}}), "https://c.example/cb?code=abc");
}

namespace {
Client client(AuthMethod m, const std::string& secret) {
  Client c;
  c.client_id = "client-1";
  c.auth_method = m;
  if (!secret.empty()) c.secret_hash = latchkey::crypto::base64url_encode(latchkey::crypto::sha256(secret));
  return c;
}
PresentedClient basic(const std::string& id, const std::string& secret) {
  PresentedClient p;
  p.basic = true;
  p.basic_id = id;
  p.basic_secret = secret;
  return p;
}
PresentedClient body(const std::string& id, std::optional<std::string> secret) {
  PresentedClient p;
  p.body_id = id;
  p.body_secret = std::move(secret);
  return p;
}
}  // namespace

TEST(OAuthClientAuth, ConfidentialClientsUseTheirRegisteredMethodAndSecret) {
  auto b = client(AuthMethod::client_secret_basic, "s3cret");
  EXPECT_EQ(check_client_auth(b, basic("client-1", "s3cret")), ClientAuthFailure::none);
  EXPECT_EQ(check_client_auth(b, basic("client-1", "wrong")), ClientAuthFailure::bad_secret);
  EXPECT_EQ(check_client_auth(b, basic("client-1", "")), ClientAuthFailure::bad_secret);
  EXPECT_EQ(check_client_auth(b, body("client-1", "s3cret")), ClientAuthFailure::wrong_method);
  EXPECT_EQ(check_client_auth(b, body("client-1", std::nullopt)), ClientAuthFailure::bad_secret);
  auto p = client(AuthMethod::client_secret_post, "s3cret");
  EXPECT_EQ(check_client_auth(p, body("client-1", "s3cret")), ClientAuthFailure::none);
  EXPECT_EQ(check_client_auth(p, body("client-1", "S3cret")), ClientAuthFailure::bad_secret);
  EXPECT_EQ(check_client_auth(p, basic("client-1", "s3cret")), ClientAuthFailure::wrong_method);
  // Introspection and revocation take either secret method; the secret must still be right.
  EXPECT_EQ(check_client_auth(p, basic("client-1", "s3cret"), MethodRule::any_secret), ClientAuthFailure::none);
  EXPECT_EQ(check_client_auth(b, body("client-1", "s3cret"), MethodRule::any_secret), ClientAuthFailure::none);
  EXPECT_EQ(check_client_auth(b, body("client-1", "wrong"), MethodRule::any_secret), ClientAuthFailure::bad_secret);
  EXPECT_EQ(check_client_auth(b, body("client-1", std::nullopt), MethodRule::any_secret),
            ClientAuthFailure::bad_secret);
}

TEST(OAuthClientAuth, PublicClientsMustNotPresentASecret) {
  auto pub = client(AuthMethod::none, "");
  EXPECT_EQ(check_client_auth(pub, body("client-1", std::nullopt)), ClientAuthFailure::none);
  EXPECT_EQ(check_client_auth(pub, body("client-1", "anything")), ClientAuthFailure::wrong_method);
  EXPECT_EQ(check_client_auth(pub, basic("client-1", "")), ClientAuthFailure::wrong_method);
}

TEST(OAuthClientAuth, TwoMethodsAtOnceAreMalformed) {
  auto b = client(AuthMethod::client_secret_basic, "s3cret");
  auto both = basic("client-1", "s3cret");
  both.body_secret = "s3cret";
  EXPECT_EQ(check_client_auth(b, both), ClientAuthFailure::malformed);
  auto other_id = basic("client-1", "s3cret");
  other_id.body_id = "client-2";
  EXPECT_EQ(check_client_auth(b, other_id), ClientAuthFailure::malformed);
  EXPECT_EQ(presented_client_id(other_id), "client-1");
  EXPECT_EQ(presented_client_id(body("client-9", std::nullopt)), "client-9");
  EXPECT_EQ(presented_client_id(PresentedClient{}), std::nullopt);
}
