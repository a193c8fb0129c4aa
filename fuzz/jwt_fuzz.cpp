// libFuzzer target: the token parser. Every input is (1) verified as a compact JWS against a
// ring of HS256 and EdDSA keys, and (2) split at the first newline into a header ("KID" standing for the key's id) and
// a claims text that are signed with the ring's HS256 key and then checked as an access token, so the header and claims
// checks behind the signature are reached too. Also the signing-ring and JWK parsers. Nothing may crash, and nothing
// the fuzzer invents may verify without a key.
#include "latchkey/crypto/signing_ring.hpp"
#include "latchkey/tokens.hpp"

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace jws = latchkey::crypto::jws;

namespace {
struct Fixture {
  latchkey::crypto::SigningRing ring = latchkey::crypto::SigningRing::generate(jws::Alg::HS256, 0);
  latchkey::tokens::Settings settings;
  latchkey::tokens::AccessTokens access{ring, settings};
  jws::Verifier verifier{{ring.keys()[0].key, jws::Key::generate(jws::Alg::EdDSA, "ed")}};
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture f;
  std::string_view s(reinterpret_cast<const char*>(data), size);
  if (std::holds_alternative<jws::Verified>(f.verifier.verify(s))) std::abort();  // no key: never valid
  (void)f.access.check(s, 1700000000, "");

  auto nl = s.find('\n');
  std::string header(nl == std::string_view::npos ? s : s.substr(0, nl));
  std::string_view claims = nl == std::string_view::npos ? std::string_view("{}") : s.substr(nl + 1);
  // "KID" in the header stands for the ring key's id, so the checks behind the key lookup run.
  for (auto at = header.find("KID"); at != std::string::npos; at = header.find("KID", at + 1))
    header.replace(at, 3, f.ring.keys()[0].key.kid());
  std::string token = jws::sign_compact(f.ring.keys()[0].key, header, claims);
  (void)f.access.check(token, 1700000000, std::nullopt);
  (void)f.access.check(token, 1700000000, "aud");

  std::string why;
  (void)latchkey::crypto::SigningRing::parse(s, why);
  boost::system::error_code ec;
  auto v = boost::json::parse(s, ec);
  if (!ec && v.is_object()) (void)jws::Key::from_jwk(v.as_object());
  return 0;
}
