// AES-256-GCM with a key ring. The newest key encrypts; every key in the ring decrypts, found
// by the key id written into the ciphertext, so keys rotate without losing data.
//
// Ciphertext layout (then base64url'd by callers that need text):
//   version(1 = 0x01) | kid_len(1) | kid | iv(12, CSPRNG) | ciphertext | tag(16)
// Associated data binds a ciphertext to its context (for example the Redis key it lives
// under): the same bytes presented under another context fail to decrypt. Every failure
// (unknown kid, truncated input, flipped bit, wrong associated data) is the same
// errc::crypto_error, so callers cannot become a decryption oracle.
#pragma once

#include "latchkey/crypto/primitives.hpp"
#include "latchkey/error.hpp"

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::crypto {

struct AeadKey {
  std::string kid;                     // 1..64 characters of [A-Za-z0-9._-]
  std::array<std::uint8_t, 32> key{};  // AES-256 key
  std::int64_t created_at = 0;         // Unix seconds; informational
};

class KeyRing {
 public:
  // Keys in order oldest to newest; the last one encrypts. Fails on an empty ring, a
  // duplicate or malformed kid.
  [[nodiscard]] static result<KeyRing> create(std::vector<AeadKey> keys);

  [[nodiscard]] std::string encrypt(std::string_view plaintext, std::string_view associated_data) const;
  [[nodiscard]] result<std::string> decrypt(std::string_view ciphertext, std::string_view associated_data) const;

  const AeadKey& active() const noexcept { return keys_.back(); }
  const std::vector<AeadKey>& keys() const noexcept { return keys_; }

  // The ring's file format: JSON {"keys": [{"kid", "key" (base64url, 32 bytes), "created_at"}]}.
  [[nodiscard]] static result<KeyRing> parse(std::string_view json_text);
  [[nodiscard]] std::string serialize() const;
  // A ring with one fresh random key.
  [[nodiscard]] static KeyRing generate();
  // Appends a fresh random key, which encrypts from now on (the older ones still decrypt);
  // returns its kid. Rotate well before 2^32 encryptions under one key (random 96-bit IVs).
  std::string add();

 private:
  explicit KeyRing(std::vector<AeadKey> keys) : keys_(std::move(keys)) {}
  const AeadKey* find(std::string_view kid) const noexcept;
  std::vector<AeadKey> keys_;
};

bool valid_kid(std::string_view kid) noexcept;

}  // namespace latchkey::crypto
