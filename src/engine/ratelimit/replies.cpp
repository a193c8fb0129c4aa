// Decoders of the rate-limit scripts' replies (contract: the headers of lua/ratelimit_*.lua).
#include "engine/ratelimit/replies.hpp"

namespace latchkey::ratelimit::replies {

using redis::integer_of;
using redis::unexpected_reply;

result<Limited> ratelimit(const redis::Reply& r, const char* script) {
  if (r.is_error()) return make_error_code(errc::redis_error);
  if (!r.is_array() || r.elements.size() != 4) return unexpected_reply(script);
  const auto& e = r.elements;
  return Limited{integer_of(e[0]) == 1, integer_of(e[1]), integer_of(e[2]), integer_of(e[3])};
}

}  // namespace latchkey::ratelimit::replies
