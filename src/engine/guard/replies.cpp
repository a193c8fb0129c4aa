// Decoders of the guard scripts' replies (contracts: the headers of lua/login_*.lua and
// lua/ratelimit_*.lua).
#include "replies.hpp"

#include "../script_results.hpp"

namespace latchkey::guard::replies {

using detail::bad_reply;
using detail::err;
using detail::int_of;

result<Checked> login_check(const redis::Reply& r) {
  if (r.is_error()) return err(errc::redis_error);
  if (!r.is_array() || r.elements.size() != 2 + 3 * 2) return bad_reply("login_check");
  const auto& e = r.elements;
  Checked c;
  c.reserved = int_of(e[0]) == 1;
  c.now_ms = int_of(e[1]);
  for (std::size_t i = 0; i < c.counters.size(); ++i)
    c.counters[i] = {int_of(e[2 + 3 * i]) == 1, int_of(e[3 + 3 * i]), int_of(e[4 + 3 * i])};
  return c;
}

result<Counted> login_failure(const redis::Reply& r) {
  if (r.is_error()) return err(errc::redis_error);
  if (!r.is_array() || r.elements.size() != 5) return bad_reply("login_failure");
  const auto& e = r.elements;
  return Counted{int_of(e[0]), int_of(e[1]), int_of(e[2]), int_of(e[3]), int_of(e[4]) == 1};
}

result<Limited> ratelimit(const redis::Reply& r, const char* script) {
  if (r.is_error()) return err(errc::redis_error);
  if (!r.is_array() || r.elements.size() != 4) return bad_reply(script);
  const auto& e = r.elements;
  return Limited{int_of(e[0]) == 1, int_of(e[1]), int_of(e[2]), int_of(e[3])};
}

}  // namespace latchkey::guard::replies
