// Decoders of the login scripts' replies (contracts: the headers of lua/login_*.lua).
#include "engine/logins/replies.hpp"

namespace latchkey::logins::replies {

using redis::integer_of;
using redis::unexpected_reply;

result<CheckedOne> login_check_one(const redis::Reply& r) {
  if (r.is_error()) return make_error_code(errc::redis_error);
  if (!r.is_array() || r.elements.size() != 2 + 3) return unexpected_reply("login_check");
  const auto& e = r.elements;
  return CheckedOne{integer_of(e[0]) == 1, integer_of(e[1]),
                    CounterVerdict{integer_of(e[2]) == 1, integer_of(e[3]), integer_of(e[4])}};
}

result<Counted> login_failure(const redis::Reply& r) {
  if (r.is_error()) return make_error_code(errc::redis_error);
  if (!r.is_array() || r.elements.size() != 5) return unexpected_reply("login_failure");
  const auto& e = r.elements;
  return Counted{integer_of(e[0]), integer_of(e[1]), integer_of(e[2]), integer_of(e[3]), integer_of(e[4]) == 1};
}

}  // namespace latchkey::logins::replies
