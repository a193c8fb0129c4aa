// The JWT signing key ring (secrets file signing.json). Keys in order oldest to newest; the
// newest key whose activation time has come and that is not being retired signs, and every
// unexpired key verifies, so a new key can be published (JWKS) before it signs and an old
// one kept until the tokens it signed have expired.
//
// File format: {"keys": [{"kid", "alg", "created_at", "activates_at", "expires_at" (0: never),
// "private_key" (PKCS#8 PEM; for HS256 "secret", base64url of >= 32 bytes)}]}.
#pragma once

#include "latchkey/crypto/jws.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace latchkey::crypto {

struct SigningKey {
  jws::Key key;
  std::int64_t created_at = 0;
  std::int64_t activates_at = 0;  // signs from this time on (Unix seconds)
  std::int64_t expires_at = 0;    // 0: never; otherwise retired (never signs), verifies until then
  bool expired(std::int64_t now) const noexcept { return expires_at != 0 && now >= expires_at; }
};

class SigningRing {
 public:
  // Fails (with `why`) on malformed JSON, an empty ring, a duplicate kid, a key that does not
  // fit its algorithm (weak RSA, short HS256 secret, wrong curve) or a key without private part.
  static std::optional<SigningRing> parse(std::string_view json_text, std::string& why);
  std::string serialize() const;
  // A ring with one fresh key of `alg`.
  static SigningRing generate(jws::Alg alg, std::int64_t now);
  // Appends a fresh key; returns its kid.
  std::string add(jws::Alg alg, std::int64_t now, std::int64_t activates_at);
  // Removes a key by kid; false when unknown or when it is the last key.
  bool remove(std::string_view kid);
  // Stops a key signing at once and verifying at `expires_at`; false when unknown or when no
  // other key could sign.
  bool retire(std::string_view kid, std::int64_t expires_at);
  const SigningKey* find(std::string_view kid) const noexcept;

  // The key that signs at `now`: the newest active key not being retired (else the newest
  // key not being retired, else the newest key).
  const jws::Key& signer(std::int64_t now) const noexcept;
  const std::vector<SigningKey>& keys() const noexcept { return keys_; }
  std::vector<jws::Key> verification_keys() const;
  // RFC 7517 JWK Set of the public keys not expired at `now` (HS256 secrets are never published).
  boost::json::object jwks(std::int64_t now) const;

 private:
  std::vector<SigningKey> keys_;
};

}  // namespace latchkey::crypto
