// Sessions, the pure part: token format and session ids (no I/O;
// also built into the fuzzing targets).
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/sessions.hpp"
#include "latchkey/key_schema.hpp"

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

}  // namespace latchkey::sessions
