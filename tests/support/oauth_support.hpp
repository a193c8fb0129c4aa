// Shared by the OAuth integration tests.
#pragma once

#include "support/test_server.hpp"

#include "latchkey/clock.hpp"
#include "latchkey/crypto/jws.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/dpop.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace latchkey::test {

// RFC 7636 Appendix B: a code verifier and its S256 challenge.
inline const std::string kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
inline const std::string kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

namespace oauth_support_json = boost::json;

inline const std::string kRedirect = "https://shop.example/cb";

inline std::string str(const oauth_support_json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

inline std::string form_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
      out.push_back(static_cast<char>(c));
    else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

struct ClientCreds {
  std::string id, secret;
};

class OAuthHttpTest : public ::testing::Test {
 protected:
  void start(const std::function<void(Config&)>& tweak = {}) {
    srv.reset();
    srv = std::make_unique<TestServer>(rs, tweak);
  }
  void SetUp() override { start(); }

  ClientCreds register_client(const std::string& body) {
    auto r = srv->post("/v1/oauth/clients", body);
    EXPECT_EQ(r.status, 201) << r.body;
    auto v = json_of(r);
    if (!v.is_object()) return {};
    return {str(v.as_object(), "client_id"), str(v.as_object(), "client_secret")};
  }
  ClientCreds confidential(const std::string& grants = R"("authorization_code","refresh_token","client_credentials")",
                           const std::string& method = "client_secret_basic") {
    return register_client(R"({"client_name":"Shop","redirect_uris":[")" + kRedirect +
                           R"(","http://127.0.0.1/native"],)"
                           R"("grant_types":[)" +
                           grants + R"(],"scope":"read write","token_endpoint_auth_method":")" + method + R"("})");
  }
  ClientCreds public_client() {
    return register_client(
        R"({"client_name":"App","redirect_uris":["https://app.example/cb"],)"
        R"("grant_types":["authorization_code","refresh_token"],"scope":"read","token_endpoint_auth_method":"none"})");
  }

  // A code for `client_id` (alice, scope read, PKCE S256); `extra` overrides JSON fields (null removes).
  std::string code_for(const std::string& client_id, const std::string& extra = "") {
    oauth_support_json::object o{{"client_id", client_id},
                                 {"redirect_uri", kRedirect},
                                 {"response_type", "code"},
                                 {"scope", "read"},
                                 {"state", "xyz"},
                                 {"code_challenge", kChallenge},
                                 {"code_challenge_method", "S256"},
                                 {"user_id", "alice"}};
    if (!extra.empty()) {
      oauth_support_json::value overrides = oauth_support_json::parse(extra);
      for (auto& [k, v] : overrides.as_object()) {
        if (v.is_null())
          o.erase(k);
        else
          o[k] = v;
      }
    }
    auto r = srv->post("/v1/oauth/authorizations", oauth_support_json::serialize(o));
    EXPECT_EQ(r.status, 201) << r.body;
    auto v = json_of(r);
    return v.is_object() ? str(v.as_object(), "code") : std::string();
  }

  // A form POST to an RFC endpoint; with `basic`, client credentials by HTTP Basic.
  HttpResult form(const std::string& path, const std::string& body,
                  const std::optional<ClientCreds>& basic = std::nullopt,
                  std::map<std::string, std::string> headers = {}) {
    if (!headers.count("Content-Type")) headers["Content-Type"] = "application/x-www-form-urlencoded";
    headers["Authorization"] = "";
    if (basic)
      headers["Authorization"] = basic_authorization(form_escape(basic->id) + ":" + form_escape(basic->secret));
    return srv->post(path, body, headers);
  }
  HttpResult redeem(const ClientCreds& c, const std::string& code, const std::string& verifier = kVerifier,
                    const std::string& redirect = kRedirect) {
    std::string body = "grant_type=authorization_code&code=" + form_escape(code);
    if (!redirect.empty()) body += "&redirect_uri=" + form_escape(redirect);
    if (!verifier.empty()) body += "&code_verifier=" + verifier;
    return form("/oauth2/token", body, c);
  }
  HttpResult refresh(const ClientCreds& c, const std::string& rt, const std::string& extra = "") {
    return form("/oauth2/token", "grant_type=refresh_token&refresh_token=" + form_escape(rt) + extra, c);
  }
  HttpResult introspect(const ClientCreds& caller, const std::string& token) {
    return form("/oauth2/introspect", "token=" + form_escape(token), caller);
  }
  bool active(const ClientCreds& caller, const std::string& token) {
    auto r = introspect(caller, token);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.body == R"({"active":false})") return false;
    auto v = json_of(r);
    EXPECT_TRUE(v.is_object() && v.as_object().contains("active")) << r.body;
    return v.is_object() && v.as_object().if_contains("active") && v.as_object().at("active").as_bool();
  }
  // Keys of one kind (e.g. "ta" opaque access tokens, "rf" refresh families).
  int count(const std::string& kind) {
    return std::stoi(rs.command({"EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "lk:" + kind + ":*"}));
  }

  RedisServer rs;
  std::unique_ptr<TestServer> srv;
};

inline oauth_support_json::object obj(const HttpResult& r) {
  auto v = json_of(r);
  return v.is_object() ? v.as_object() : oauth_support_json::object{};
}

// A client's DPoP key and the proofs it signs.
struct ProofKey {
  explicit ProofKey(crypto::jws::Alg alg = crypto::jws::Alg::ES256) : key(crypto::jws::Key::generate(alg, "k")) {}
  oauth_support_json::object jwk() const {
    auto j = *key.public_jwk();
    j.erase("kid");
    j.erase("use");
    j.erase("alg");
    return j;
  }
  std::string thumbprint() const { return *dpop::thumbprint(jwk()); }
  // `edit` may change the header and claims before signing; `signer` signs instead of `key`.
  std::string proof(const std::string& method, const std::string& url, const std::string& access_token = "",
                    const std::function<void(oauth_support_json::object&, oauth_support_json::object&)>& edit = {},
                    const crypto::jws::Key* signer = nullptr) const {
    oauth_support_json::object header{{"typ", "dpop+jwt"}, {"alg", crypto::jws::alg_name(key.alg())}, {"jwk", jwk()}};
    oauth_support_json::object claims{
        {"jti", crypto::random_token(12)}, {"htm", method}, {"htu", url}, {"iat", unix_now()}};
    if (!access_token.empty()) claims["ath"] = dpop::access_token_hash(access_token);
    if (edit) edit(header, claims);
    return crypto::jws::sign_compact(signer ? *signer : key, oauth_support_json::serialize(header),
                                     oauth_support_json::serialize(claims));
  }
  crypto::jws::Key key;
};

}  // namespace latchkey::test
