// Who a request is about, as every capability names it: user ids as the API accepts them,
// account names folded to one spelling, client addresses grouped, and the digests that stand
// for them in Redis key names (src/engine/identity.cpp; no I/O).
#pragma once

#include "latchkey/crypto/primitives.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace latchkey {

// A user id as every capability accepts it: 1-256 bytes of UTF-8 without control characters
// (it is echoed in JSON answers: never bytes that are not text).
[[nodiscard]] bool valid_user_id(std::string_view user_id) noexcept;
// 128 bits of SHA-256(user id), base64url: the per-user part of session and token index keys.
[[nodiscard]] std::string user_hash(std::string_view user_id);
// The Redis Cluster slot of every key of this user (the slot of user_hash).
[[nodiscard]] std::uint16_t user_slot(std::string_view user_id);

// An IP address in any spelling: IPv4 as dotted quad, IPv4-mapped IPv6 as IPv4, other IPv6
// grouped by its first `ipv6_prefix` bits ("2001:db8::/64"); nullopt when `text` is not an
// address (a zone index is dropped).
[[nodiscard]] std::optional<std::string> canonical_address(std::string_view text, int ipv6_prefix);
// An account name as one spelling: Unicode NFKC case folding (NFKC_Casefold), surrounding
// white space trimmed; nullopt when not UTF-8 or nothing is left.
[[nodiscard]] std::optional<std::string> canonical_account(std::string_view user_id);
// The same through ICU for any text (canonical_account takes it for all but ASCII).
[[nodiscard]] std::optional<std::string> canonical_account_unicode(std::string_view user_id);

// Keyed digests of identifiers for the key names of login protection and rate limits:
// HMAC-SHA-256(key, kind NUL id), 128 bits, base64url. `kind` separates namespaces (no
// caller-chosen id can reach another kind's counter); the key (DIR/identifiers.json) makes
// digests of guessable ids (every IPv4 address, a list of e-mail addresses) useless without it.
class Identifiers {
 public:
  Identifiers() : Identifiers(std::string()) {}
  explicit Identifiers(const std::string& key);
  [[nodiscard]] std::string of(std::string_view kind, std::string_view id) const;

 private:
  crypto::PreparedHmacSha256 mac_;  // the key absorbed once: two SHA-256 blocks per digest
};

}  // namespace latchkey
