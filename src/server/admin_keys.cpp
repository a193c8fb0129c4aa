#include "server/admin_keys.hpp"

#include <cctype>

namespace latchkey::server {

std::string_view grant_name(AdminGrant g) noexcept {
  switch (g) {
    case AdminGrant::none: return "none";
    case AdminGrant::read_only: return "read_only";
    case AdminGrant::full: return "full";
  }
  return "none";
}

AdminKeys::AdminKeys(const std::vector<std::string>& full, const std::vector<std::string>& read_only) {
  for (const auto& k : full) full_.push_back(crypto::sha256(k));
  for (const auto& k : read_only) read_only_.push_back(crypto::sha256(k));
}

AdminGrant AdminKeys::of_key(std::string_view key) const {
  if (key.empty()) return AdminGrant::none;
  // Every configured key is compared (no early exit).
  auto presented = crypto::sha256(key);
  bool full = false, read = false;
  for (const auto& h : full_) full = crypto::constant_time_equal(presented, h) || full;
  for (const auto& h : read_only_) read = crypto::constant_time_equal(presented, h) || read;
  return full ? AdminGrant::full : read ? AdminGrant::read_only : AdminGrant::none;
}

AdminGrant AdminKeys::of_authorization(std::string_view authorization) const {
  if (authorization.size() < 7) return AdminGrant::none;
  std::string scheme(authorization.substr(0, 7));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return AdminGrant::none;
  std::string_view key = authorization.substr(7);
  while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
  return of_key(key);
}

}  // namespace latchkey::server
