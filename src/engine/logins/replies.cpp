// Decoders of the login scripts' replies (contracts: the headers of lua/login_*.lua).
#include "engine/logins/replies.hpp"

namespace latchkey::logins::replies {

using redis::integer_of;
using redis::unexpected_reply;

result<Checked> login_check(const redis::Reply& r) {
  if (r.is_error()) return make_error_code(errc::redis_error);
  if (!r.is_array() || r.elements.size() != 2 + 3 * 2) return unexpected_reply("login_check");
  const auto& e = r.elements;
  Checked c;
  c.reserved = integer_of(e[0]) == 1;
  c.now_ms = integer_of(e[1]);
  for (std::size_t i = 0; i < c.counters.size(); ++i)
    c.counters[i] = {integer_of(e[2 + 3 * i]) == 1, integer_of(e[3 + 3 * i]), integer_of(e[4 + 3 * i])};
  return c;
}

result<Counted> login_failure(const redis::Reply& r) {
  if (r.is_error()) return make_error_code(errc::redis_error);
  if (!r.is_array() || r.elements.size() != 5) return unexpected_reply("login_failure");
  const auto& e = r.elements;
  return Counted{integer_of(e[0]), integer_of(e[1]), integer_of(e[2]), integer_of(e[3]), integer_of(e[4]) == 1};
}

}  // namespace latchkey::logins::replies
