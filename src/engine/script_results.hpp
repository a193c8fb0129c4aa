// Engine-internal helpers for reading script replies, shared by the capability services.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/log.hpp"
#include "latchkey/redis/reply.hpp"

#include <charconv>
#include <string>

namespace latchkey::detail {

inline boost::system::error_code err(errc e) { return make_error_code(e); }

// An integer reply, or a bulk string holding one (0 when it does not).
inline std::int64_t int_of(const redis::Reply& r) {
  if (r.is_integer()) return r.integer;
  std::int64_t v = 0;
  std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  return v;
}

// A script reply of the wrong shape is a bug or a foreign writer: never a "valid".
inline boost::system::error_code bad_reply(const char* script) {
  log::event(log::Level::error, std::string("unexpected reply shape from ") + script);
  return err(errc::internal);
}

}  // namespace latchkey::detail
