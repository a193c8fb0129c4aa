// Reading values out of replies (reply.hpp).
#include "latchkey/redis/reply.hpp"

#include "latchkey/error.hpp"
#include "latchkey/log.hpp"

#include <charconv>

namespace latchkey::redis {

std::int64_t integer_of(const Reply& r) noexcept {
  if (r.is_integer()) return r.integer;
  std::int64_t v = 0;
  std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  return v;
}

boost::system::error_code unexpected_reply(std::string_view what) {
  log::event(log::Level::error, "unexpected reply shape from " + std::string(what));
  return make_error_code(errc::internal);
}

}  // namespace latchkey::redis
