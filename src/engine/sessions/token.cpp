// Sessions, the pure part: token format, session ids, user hashes and key names (no I/O;
// also built into the fuzzing targets).
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/redis/slot.hpp"
#include "latchkey/sessions.hpp"
#include "latchkey/key_schema.hpp"
#include "latchkey/utf8.hpp"

namespace latchkey::sessions {
namespace {

constexpr std::size_t kSessionIdChars = 43;

}  // namespace

std::string session_id_of(std::string_view token) { return crypto::sha256_base64url(token); }

std::string new_token(std::uint16_t slot) { return key_schema::new_handle(key_schema::Handle::session, slot); }

std::optional<ParsedToken> parse_token(std::string_view token) {
  auto slot = key_schema::handle_slot(token, key_schema::Handle::session);
  if (!slot) return std::nullopt;
  return ParsedToken{*slot, session_id_of(token)};
}

bool valid_session_id(std::string_view id) noexcept {
  if (id.size() != kSessionIdChars) return false;
  auto raw = crypto::base64url_decode(id);
  return raw && raw->size() == 32;
}

// 128 bits of SHA-256(user id): collision-free for any realistic number of users, and 21
// bytes shorter in every session hash and index key name than the full digest.
std::string user_hash(std::string_view user_id) {
  auto digest = crypto::sha256(user_id);
  return crypto::base64url_encode(crypto::bytes_view(digest.data(), 16));
}

bool valid_user_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 256) return false;
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f) return false;
  return valid_utf8(id);  // echoed in JSON answers: never bytes that are not text
}

std::uint16_t user_slot(std::string_view user_id) { return redis::key_slot(user_hash(user_id)); }

}  // namespace latchkey::sessions
