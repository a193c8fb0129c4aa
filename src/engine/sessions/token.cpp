// Sessions, the pure part: token format and session ids (no I/O;
// also built into the fuzzing targets).
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/sessions.hpp"
#include "latchkey/key_schema.hpp"

#include <array>

namespace latchkey::sessions {
namespace {

constexpr std::size_t kSessionIdChars = 43;

}  // namespace

std::string session_id_of(std::string_view token) { return crypto::sha256_base64url(token); }

std::string new_token(std::uint16_t slot, std::int64_t idle_ttl) {
  if (idle_ttl <= 0 || idle_ttl > std::int64_t{0xFFFFFFFF})
    return key_schema::new_handle(key_schema::Handle::session, slot);
  const auto v = static_cast<std::uint32_t>(idle_ttl);
  const std::array<std::uint8_t, 4> idle{static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                                         static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  return key_schema::new_handle(key_schema::Handle::session_with_idle, slot, idle);
}

std::optional<ParsedToken> parse_token(std::string_view token) {
  if (auto slot = key_schema::handle_slot(token, key_schema::Handle::session))
    return ParsedToken{*slot, session_id_of(token), 0};
  std::array<std::uint8_t, 4> idle{};
  auto slot = key_schema::handle_slot(token, key_schema::Handle::session_with_idle, idle);
  if (!slot) return std::nullopt;
  const std::int64_t idle_ttl = (std::int64_t{idle[0]} << 24) | (idle[1] << 16) | (idle[2] << 8) | idle[3];
  if (idle_ttl == 0) return std::nullopt;
  return ParsedToken{*slot, session_id_of(token), idle_ttl};
}

bool valid_session_id(std::string_view id) noexcept {
  if (id.size() != kSessionIdChars) return false;
  auto raw = crypto::base64url_decode(id);
  return raw && raw->size() == 32;
}

}  // namespace latchkey::sessions
