// Reply values for the unit tests of script-reply decoders: arr({s("ok"), i(1)}) is what a
// script's {'ok', 1} arrives as; code() reads an engine error back.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/redis/reply.hpp"

#include <string>
#include <vector>

namespace latchkey::test::replies {

inline redis::Reply arr(std::vector<redis::Reply> e) {
  redis::Reply r;
  r.type = redis::Reply::kind::array;
  r.elements = std::move(e);
  return r;
}
inline redis::Reply s(std::string v) { return redis::Reply::make_string(std::move(v)); }
inline redis::Reply i(std::int64_t v) { return redis::Reply::make_integer(v); }
inline errc code(const boost::system::error_code& ec) { return static_cast<errc>(ec.value()); }

}  // namespace latchkey::test::replies
