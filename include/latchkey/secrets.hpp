// The key rings in the secrets directory. `latchkey keys init --dir DIR` creates them;
// `latchkey serve` refuses to start unless every ring is present and valid, and names the
// one that is not.
//   DIR/encryption.json   AES-256-GCM ring (crypto/aead.hpp format), mode 0600
#pragma once

#include "latchkey/crypto/aead.hpp"

#include <optional>
#include <string>
#include <variant>

namespace latchkey {

struct Secrets {
  crypto::KeyRing encryption;
};

inline constexpr const char* kEncryptionRingFile = "encryption.json";

// The secrets, or a message naming the missing or invalid file.
std::variant<Secrets, std::string> load_secrets(const std::string& dir);

// Creates DIR (0700) and each ring file that does not exist yet (0600). Never overwrites a
// ring. Returns an error message, or nothing on success; `created` lists the new files.
std::optional<std::string> init_secrets(const std::string& dir, std::string* created = nullptr);

}  // namespace latchkey
