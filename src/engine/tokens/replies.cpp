// Decoders of the token scripts' replies (contracts: the headers of lua/token_*.lua).
#include "engine/tokens/replies.hpp"

namespace latchkey::tokens::replies {

using redis::integer_of;
using redis::unexpected_reply;

result<IssueClock> issue(const redis::Reply& r) {
  if (r.is_error()) return make_error_code(errc::redis_error);
  if (!r.is_array() || r.elements.size() != 2) return unexpected_reply("token_issue");
  return IssueClock{integer_of(r.elements[0]), integer_of(r.elements[1])};
}

result<Refreshed> refresh(redis::Reply r) {
  if (r.is_error()) return make_error_code(errc::redis_error);
  if (!r.is_array() || r.elements.empty()) return unexpected_reply("token_refresh");
  const std::string& status = r.elements[0].str;
  Refreshed out;
  if (status == "rotated" && r.elements.size() == 1) {
    out.result = Refreshed::outcome::rotated;
  } else if (status == "grace" && r.elements.size() == 2) {
    out.result = Refreshed::outcome::grace;
    out.sealed_pair = std::move(r.elements[1].str);
  } else if (status == "reuse" && r.elements.size() == 1) {
    out.result = Refreshed::outcome::reuse;
  } else if (status == "invalid" && r.elements.size() == 1) {
    out.result = Refreshed::outcome::invalid;
  } else {
    return unexpected_reply("token_refresh");
  }
  return out;
}

result<bool> revoke_family(const redis::Reply& r) {
  if (r.is_error()) return result<bool>(boost::system::in_place_error, make_error_code(errc::redis_error));
  if (!r.is_integer()) return result<bool>(boost::system::in_place_error, unexpected_reply("token_revoke_family"));
  return r.integer == 1;
}

result<std::int64_t> revoke_user(const redis::Reply& r) {
  if (r.is_error()) return make_error_code(errc::redis_error);
  if (!r.is_integer()) return unexpected_reply("token_revoke_user");
  return r.integer;
}

result<std::optional<StoredAccess>> introspect(redis::Reply r) {
  if (r.is_error()) return make_error_code(errc::redis_error);
  if (!r.is_array() || (!r.elements.empty() && r.elements.size() != 8)) return unexpected_reply("token_introspect");
  if (r.elements.empty()) return std::optional<StoredAccess>();
  auto& e = r.elements;
  return std::optional<StoredAccess>(StoredAccess{std::move(e[0].str), std::move(e[1].str), std::move(e[2].str),
                                                  std::move(e[3].str), integer_of(e[4]), integer_of(e[5]),
                                                  std::move(e[6].str), std::move(e[7].str)});
}

}  // namespace latchkey::tokens::replies
