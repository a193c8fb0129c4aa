// redis://[[user]:password@]host[:port][/db] URLs (and rediss:// refused: hiredis 0.14 and
// this client have no TLS). Percent-escapes in user and password are decoded.
#pragma once

#include "latchkey/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace latchkey::redis {

struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string user;      // empty: legacy AUTH <password> (or no AUTH without a password)
  std::string password;  // empty: no AUTH
  int db = 0;

  // host:port/db, never the credentials: safe to log.
  std::string describe() const;
};

// Returns the endpoint, or config_error with `error` describing what is wrong.
[[nodiscard]] result<Endpoint> parse_url(std::string_view url, std::string* error = nullptr);

}  // namespace latchkey::redis
