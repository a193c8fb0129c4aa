// A decoded RESP2 reply. An error reply from Redis is a value (kind::error), not a failure
// of the batch it came in: a pipeline of five commands can carry one NOSCRIPT and four
// good answers.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::redis {

struct Reply {
  enum class kind : std::uint8_t { nil, status, error, integer, string, array };

  kind type = kind::nil;
  std::string str;  // status, error and bulk string payloads
  std::int64_t integer = 0;
  std::vector<Reply> elements;  // array members

  bool is_nil() const noexcept { return type == kind::nil; }
  bool is_error() const noexcept { return type == kind::error; }
  bool is_string() const noexcept { return type == kind::string || type == kind::status; }
  bool is_integer() const noexcept { return type == kind::integer; }
  bool is_array() const noexcept { return type == kind::array; }
  // The error prefix, e.g. "NOSCRIPT", "MOVED", "READONLY", "LOADING".
  std::string_view error_code() const noexcept {
    if (!is_error()) return {};
    std::string_view s = str;
    return s.substr(0, s.find(' '));
  }

  static Reply make_status(std::string s) { return {kind::status, std::move(s), 0, {}}; }
  static Reply make_error(std::string s) { return {kind::error, std::move(s), 0, {}}; }
  static Reply make_string(std::string s) { return {kind::string, std::move(s), 0, {}}; }
  static Reply make_integer(std::int64_t v) { return {kind::integer, {}, v, {}}; }
  static Reply make_nil() { return {}; }
};

// The replies of one request, in the order of its commands.
using Replies = std::vector<Reply>;

}  // namespace latchkey::redis

namespace latchkey::redis {

// An integer reply, or a bulk string holding one (0 when it does not): scripts answer counts
// and times either way.
std::int64_t integer_of(const Reply& r) noexcept;
// A reply of the wrong shape from `what` (a script or command name): a bug or a foreign writer
// of our keys, never a valid answer. Logs it once per occurrence and gives errc::internal.
boost::system::error_code unexpected_reply(std::string_view what);

}  // namespace latchkey::redis
