// libFuzzer target: the parsers of untrusted or operator input that run without I/O:
// session tokens, base64url, hex, redis:// URLs, key-ring files, config files, and the OAuth
// rules on client input (redirect URIs, scopes, PKCE verifiers, handles), DPoP proofs and
// URLs (RFC 9449), and the OpenID Connect login as stored and as sent.
#include "latchkey/config.hpp"
#include "latchkey/crypto/aead.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/dpop.hpp"
#include "latchkey/oidc.hpp"
#include "latchkey/oauth.hpp"
#include "latchkey/redis/slot.hpp"
#include "latchkey/redis/url.hpp"
#include "latchkey/sessions.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  if (auto t = latchkey::sessions::parse_token(s)) {
    if (t->slot >= 16384) std::abort();
  }
  (void)latchkey::sessions::valid_session_id(s);
  if (auto d = latchkey::crypto::base64url_decode(s)) {
    // Canonical: decoding then encoding gives back the input.
    if (latchkey::crypto::base64url_encode(*d) != s) std::abort();
  }
  (void)latchkey::crypto::hex_decode(s);
  std::string why;
  (void)latchkey::redis::parse_url(s, &why);
  (void)latchkey::crypto::KeyRing::parse(s);
  namespace oauth = latchkey::oauth;
  if (oauth::valid_redirect_uri(s)) {
    // A registrable URI matches itself, and a response built on it starts with it.
    if (!oauth::redirect_uri_matches(s, s)) std::abort();
    if (oauth::add_query(s, {{"code", "x"}, {"state", std::string(s)}}).rfind(s, 0) != 0) std::abort();
  }
  if (oauth::valid_scope(s) && !oauth::scope_within(s, s)) std::abort();
  if (oauth::valid_code_verifier(s) && oauth::s256_challenge(s).size() != 43) std::abort();
  (void)oauth::valid_client_id(s);
  for (std::uint8_t v = 1; v <= 4; ++v)
    if (auto slot = latchkey::redis::handle_slot(s, v); slot && *slot >= 16384) std::abort();
  namespace dpop = latchkey::dpop;
  dpop::Expect e;
  e.method = "POST";
  e.url = "https://auth.example/oauth2/token";
  e.now = 1700000000;
  auto checked = dpop::check(s, e);
  // An accepted proof has a thumbprint (43 characters) and a jti.
  if (auto* p = std::get_if<dpop::Proof>(&checked); p && (p->jkt.size() != 43 || p->jti.empty())) std::abort();
  // The htu comparison is symmetric.
  if (dpop::same_url(s, e.url) != dpop::same_url(e.url, s)) std::abort();
  (void)dpop::valid_nonce_syntax(s);
  namespace oidc = latchkey::oidc;
  if (auto l = oidc::from_stored_json(s)) {
    // What was stored reads back the same.
    auto again = oidc::from_stored_json(oidc::stored_json(*l));
    if (!again || again->claims_json != l->claims_json || again->amr != l->amr) std::abort();
  }
  (void)oidc::released_claims(s, "openid profile email address phone");
  latchkey::oidc::Login login;
  login.claims_json = std::string(s);
  (void)oidc::check(login, 1700000000, 30);
  latchkey::ConfigInputs in;
  in.file_text = std::string(s);
  in.file_name = "fuzz.conf";
  (void)latchkey::load_config(in);
  return 0;
}
