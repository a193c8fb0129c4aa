// The admin API keys (admin_api_keys): which grant a presented key carries. Keys are held as
// SHA-256 digests and compared in constant time against every configured key, so timing says
// nothing about a key's length or contents. Used by dispatch (the Bearer header) and by the
// console's login (a key exchanged for a console session).
#pragma once

#include "latchkey/crypto/primitives.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::server {

enum class AdminGrant : std::uint8_t { none, read_only, full };
std::string_view grant_name(AdminGrant g) noexcept;  // "none", "read_only", "full"

class AdminKeys {
 public:
  AdminKeys() = default;
  AdminKeys(const std::vector<std::string>& full, const std::vector<std::string>& read_only);
  AdminGrant of_key(std::string_view key) const;
  // "Bearer <key>", the scheme case-insensitive (RFC 6750 2.1).
  AdminGrant of_authorization(std::string_view authorization) const;

 private:
  std::vector<crypto::Sha256Digest> full_, read_only_;
};

}  // namespace latchkey::server
