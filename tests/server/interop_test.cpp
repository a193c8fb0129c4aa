// Tokens against independent implementations: tokens latchkey issues verify in PyJWT (Debian's
// python3-jwt) and in jose (npm) through latchkey's JWKS endpoint, and tokens they sign with
// latchkey's keys verify in latchkey. Needs /usr/bin/python3 with python3-jwt and
// tests/interop/node/node_modules (scripts/test runs `npm ci` there).
#include "latchkey/clock.hpp"
#include "support/process.hpp"
#include "support/test_server.hpp"
#include "support/tls_certs.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace latchkey;
using namespace latchkey::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace jws = latchkey::crypto::jws;

namespace {

const std::string kInterop = std::string(LATCHKEY_SOURCE_DIR) + "/tests/interop";

struct Tool {
  const char* name;
  std::vector<std::string> command;
};

std::vector<Tool> tools() {
  return {{"pyjwt", {"/usr/bin/python3", kInterop + "/pyjwt_interop.py"}},
          {"jose", {"/usr/bin/env", "node", kInterop + "/node/jose_interop.mjs"}}};
}

// Runs a tool; returns its stdout, failing the test on a non-zero exit.
std::string run(const Tool& tool, std::vector<std::string> args) {
  std::vector<std::string> argv = tool.command;
  argv.insert(argv.end(), args.begin(), args.end());
  Process p(argv, {});
  auto code = p.wait(60s);
  EXPECT_EQ(code, 0) << tool.name << " failed: " << p.err() << p.out();
  std::string out = p.out();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

class InteropTest : public ::testing::TestWithParam<jws::Alg> {
 protected:
  void SetUp() override {
    secrets = test_secrets(std::nullopt, GetParam());
    srv = std::make_unique<TestServer>(rs, nullptr, std::nullopt, secrets);
    char tmpl[] = "/tmp/latchkey-interop-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    dir = tmpl;
    key_file = dir + "/key";
    std::ofstream(key_file) << signer().private_material();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  const jws::Key& signer() { return secrets->signing.signer(unix_now()); }
  std::string jwks_url() { return "http://127.0.0.1:" + std::to_string(srv->port()) + "/.well-known/jwks.json"; }
  std::string issue(const std::string& user) {
    auto r = srv->post("/v1/tokens", "{\"user_id\":\"" + user + "\",\"claims\":{\"n\":1}}");
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(json_of(r).at("access_token").as_string());
  }

  RedisServer rs;
  std::optional<Secrets> secrets;
  std::unique_ptr<TestServer> srv;
  std::string dir, key_file;
};

}  // namespace

TEST_P(InteropTest, OurTokensVerifyInIndependentImplementations) {
  std::vector<std::string> tokens{issue("interop-a"), issue("interop-b")};
  for (const auto& tool : tools()) {
    std::vector<std::string> args;
    if (GetParam() == jws::Alg::HS256) {
      // A shared secret is never published: the verifier is given it directly.
      args = {"verify-hs", "latchkey", signer().private_material()};  // base64url of the secret
    } else {
      args = {"verify", jwks_url(), "latchkey"};
    }
    args.insert(args.end(), tokens.begin(), tokens.end());
    EXPECT_EQ(run(tool, args), "ok 2") << tool.name;
  }
}

TEST_P(InteropTest, TheirTokensSignedWithOurKeysVerifyInOurs) {
  for (const auto& tool : tools()) {
    std::string token =
        run(tool, {"sign", jws::alg_name(GetParam()), signer().kid(), key_file, "latchkey", "interop-user"});
    auto r = srv->post("/v1/tokens/verify", "{\"token\":\"" + token + "\"}");
    ASSERT_EQ(r.status, 200) << tool.name << ": " << token << " -> " << r.body;
    auto claims = json_of(r).at("claims");
    EXPECT_EQ(claims.at("sub").as_string(), "interop-user");
    EXPECT_EQ(claims.at("via").as_string(), tool.name);
    // Signed by them with a key we do not hold: refused.
    auto other = test_secrets(std::nullopt, GetParam());
    std::string other_file = dir + "/other";
    std::ofstream(other_file) << other.signing.signer(unix_now()).private_material();
    std::string forged = run(tool, {"sign", jws::alg_name(GetParam()), signer().kid(), other_file, "latchkey", "x"});
    EXPECT_EQ(srv->post("/v1/tokens/verify", "{\"token\":\"" + forged + "\"}").status, 401) << tool.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, InteropTest,
                         ::testing::Values(jws::Alg::EdDSA, jws::Alg::ES256, jws::Alg::RS256, jws::Alg::HS256),
                         [](const ::testing::TestParamInfo<jws::Alg>& p) {
                           return std::string(jws::alg_name(p.param));
                         });

// An independent OAuth client library, unmodified, drives the OAuth server end to end (both
// access-token formats): Authlib 1.2 (Debian python3-authlib), see tests/interop/authlib_oauth.py.
class OAuthInteropTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OAuthInteropTest, AuthlibDrivesEveryGrantIntrospectionAndRevocation) {
  RedisServer rs;
  std::uint16_t port = reserved_listen_port();
  TestServer srv(rs, [port](Config& c) {
    c.oauth_access_token_format = GetParam();
    c.listen_port = port;
    c.token_issuer = "http://127.0.0.1:" + std::to_string(port);  // metadata needs a URL issuer
  });
  Process p(
      {"/usr/bin/python3", kInterop + "/authlib_oauth.py", "http://127.0.0.1:" + std::to_string(srv.port()), kAdminKey},
      {});
  auto code = p.wait(60s);
  EXPECT_EQ(code, 0) << p.out() << p.err();
  EXPECT_EQ(p.out(), "ok\n") << p.err();
}

INSTANTIATE_TEST_SUITE_P(Formats, OAuthInteropTest, ::testing::Values("opaque", "jwt"));

// An independent, strict OpenID Connect client (npm oauth4webapi, unmodified) drives discovery,
// the code flow with nonce and ID token checks, userinfo, refresh and DPoP (three key types)
// over HTTPS, with and without server nonces (tests/interop/node/oidc_interop.mjs); PyJWT
// (Debian python3-jwt) then verifies every ID token it saw through the JWKS.
class OidcInteropTest : public ::testing::TestWithParam<bool> {};

TEST_P(OidcInteropTest, Oauth4webapiDrivesOpenidConnectAndDpopAndPyJwtVerifiesTheIdTokens) {
  RedisServer rs;
  std::uint16_t port = reserved_listen_port();
  const std::string issuer = "https://localhost:" + std::to_string(port);
  const bool nonces = GetParam();
  TestServer srv(rs, [&](Config& c) {
    const auto& certs = TlsCerts::get();
    c.tls_cert_file = certs.pem("server");
    c.tls_key_file = certs.key("server");
    c.listen_port = port;
    c.token_issuer = issuer;
    c.oauth_dpop_nonce = nonces;
  });
  char tmpl[] = "/tmp/latchkey-oidc-XXXXXX";
  ASSERT_TRUE(::mkdtemp(tmpl));
  const std::string dir = tmpl;
  Process p({"/usr/bin/env", "node", kInterop + "/node/oidc_interop.mjs", issuer, kAdminKey, dir + "/id_tokens"},
            {{"NODE_EXTRA_CA_CERTS", TlsCerts::get().pem("ca")}});
  auto code = p.wait(120s);
  EXPECT_EQ(code, 0) << p.out() << p.err();
  EXPECT_EQ(p.out(), "ok\n") << p.err();
  // With the JWKS as the client fetched it from jwks_uri.
  auto verified = run(tools()[0], {"verify-id", dir + "/id_tokens.jwks", issuer, dir + "/id_tokens"});
  EXPECT_TRUE(verified.starts_with("ok ")) << verified;
  if (verified.starts_with("ok ")) {
    EXPECT_GE(std::stoi(verified.substr(3)), 5) << verified;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

INSTANTIATE_TEST_SUITE_P(ServerNonces, OidcInteropTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return std::string(p.param ? "DpopNonces" : "NoNonces");
                         });
