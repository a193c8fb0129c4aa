// The key rings in the secrets directory. `latchkey keys init --dir DIR` creates them;
// `latchkey serve` refuses to start unless every ring is present and valid, and names the
// one that is not.
//   DIR/encryption.json   AES-256-GCM ring (crypto/aead.hpp format), mode 0600
//   DIR/signing.json      JWT signing ring (crypto/signing_ring.hpp format), mode 0600
//   DIR/identifiers.json  HMAC key for the digests of IPs, account names and rate-limit keys in
//                         Redis key names: {"key": base64url of 32 bytes}, mode 0600
// DIR must be 0700 and every file 0600 (no group or other access): anything else refuses to
// load unless `allow_insecure_mode`, which loads with a warning.
#pragma once

#include "latchkey/crypto/aead.hpp"
#include "latchkey/crypto/signing_ring.hpp"

#include <optional>
#include <string>
#include <variant>

namespace latchkey {

struct Secrets {
  crypto::KeyRing encryption;
  crypto::SigningRing signing;
  std::string identifier_key;  // 32 raw bytes (empty in tests that build Secrets themselves)
};

inline constexpr const char* kEncryptionRingFile = "encryption.json";
inline constexpr const char* kSigningRingFile = "signing.json";
inline constexpr const char* kIdentifierKeyFile = "identifiers.json";

// The secrets, or a message naming the missing, invalid or exposed file. With
// `allow_insecure_mode`, group/other access to DIR or a file is a warning (appended to
// `warnings`, one line each) instead of a refusal.
std::variant<Secrets, std::string> load_secrets(const std::string& dir, bool allow_insecure_mode = false,
                                                std::string* warnings = nullptr);

// Every signing key's algorithm must be one token_algorithms allows (a comma-separated list):
// the message naming the first key that is not, or nothing.
std::optional<std::string> check_signing_algorithms(const Secrets& secrets, std::string_view token_algorithms);

// Creates DIR (0700) and each ring file that does not exist yet (0600); a new signing ring
// holds one key of `signing_alg`. Never overwrites a ring. Returns an error message, or
// nothing on success; `created` lists the new files.
std::optional<std::string> init_secrets(const std::string& dir, std::string* created = nullptr,
                                        crypto::jws::Alg signing_alg = crypto::jws::Alg::EdDSA);

// Reads DIR/signing.json, or a message saying why not.
std::variant<crypto::SigningRing, std::string> load_signing_ring(const std::string& dir);
// Replaces DIR/signing.json atomically (write to a temporary 0600 file, fsync, rename).
std::optional<std::string> store_signing_ring(const std::string& dir, const crypto::SigningRing& ring);
// Adds a fresh AES-256-GCM key to DIR/encryption.json (atomically, as above): it encrypts
// from the next start; every older key still decrypts. Sets `kid`; returns an error or nothing.
std::optional<std::string> add_encryption_key(const std::string& dir, std::string& kid);

// A fresh admin API key (43 base64url characters: 256 random bits) added to the file `path`,
// the admin_api_keys_file format (comma-separated keys): created 0600 when missing, else the
// key is appended atomically, so old and new keys work side by side while backends switch.
// A file group or others can read is refused. Sets `key`; returns an error or nothing.
std::optional<std::string> add_admin_key(const std::string& path, std::string& key);

}  // namespace latchkey
