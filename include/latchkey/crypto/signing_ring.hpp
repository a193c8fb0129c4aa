// The JWT signing key ring (secrets file signing.json). Keys in order oldest to newest; the
// newest key whose activation time has come signs, and every key in the ring verifies, so a
// new key can be published (JWKS) before it signs and an old one kept until the tokens it
// signed have expired.
//
// File format: {"keys": [{"kid", "alg", "created_at", "activates_at", "private_key" (PKCS#8
// PEM; for HS256 "secret", base64url of >= 32 bytes)}]}.
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

  // The key that signs at `now`: the newest active key (the oldest key if none is active yet).
  const jws::Key& signer(std::int64_t now) const noexcept;
  const std::vector<SigningKey>& keys() const noexcept { return keys_; }
  std::vector<jws::Key> verification_keys() const;
  // RFC 7517 JWK Set of the public keys (HS256 secrets are never published).
  boost::json::object jwks() const;

 private:
  std::vector<SigningKey> keys_;
};

}  // namespace latchkey::crypto
