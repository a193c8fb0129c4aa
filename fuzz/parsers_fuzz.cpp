// libFuzzer target: the parsers of untrusted or operator input that run without I/O:
// session tokens, base64url, hex, redis:// URLs, key-ring files, config files, and the OAuth
// rules on client input (redirect URIs, scopes, PKCE verifiers, handles).
#include "latchkey/config.hpp"
#include "latchkey/crypto/aead.hpp"
#include "latchkey/crypto/primitives.hpp"
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
  latchkey::ConfigInputs in;
  in.file_text = std::string(s);
  in.file_name = "fuzz.conf";
  (void)latchkey::load_config(in);
  return 0;
}
