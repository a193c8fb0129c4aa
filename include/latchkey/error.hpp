// The one error vocabulary of the engine. Every fallible engine call returns result<T> whose
// error is an errc from this category; the HTTP layer maps errc to status in exactly one
// place (src/server/http_errors.cpp). Codes are chosen by meaning, not by HTTP status.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <system_error>

namespace latchkey {

enum class errc {
  ok = 0,
  invalid_request,        // malformed input (400)
  unauthorized,           // missing or wrong admin API key (401)
  invalid_session,        // unknown, expired or malformed session token (401)
  invalid_token,          // JWT failed verification (401)
  invalid_grant,          // refresh token / code invalid, reused or expired
  invalid_scope,          // requested scope exceeds what was granted (OAuth, 400)
  not_found,              // unknown id (404)
  method_not_allowed,     // route exists, method does not (405)
  version_conflict,       // optimistic concurrency lost (409)
  session_limit_reached,  // per-user limit with reject_new (409)
  payload_too_large,      // body over the configured limit (413)
  unsupported_media_type, // wrong Content-Type (415)
  header_too_large,       // request headers over the limit (431)
  rate_limited,           // rate limit denied (429)
  account_locked,         // login lockout (429)
  unavailable,            // Redis unreachable, timed out or refusing writes (503)
  timeout,                // a deadline passed (engine-internal; maps to unavailable)
  redis_error,            // Redis answered with an error reply where none was expected
  protocol_error,         // malformed RESP or an unexpected reply shape
  crypto_error,           // decryption / authentication failure (uniform on purpose)
  config_error,           // invalid configuration (start-up only)
  internal,               // a bug: should never reach a client with details
};

const boost::system::error_category& latchkey_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), latchkey_category()};
}

// The stable wire name of a code, as used in {"error": "..."} bodies.
const char* error_name(errc e) noexcept;

template <class T>
using result = boost::system::result<T, boost::system::error_code>;

}  // namespace latchkey

namespace boost::system {
template <>
struct is_error_code_enum<latchkey::errc> : std::true_type {};
}  // namespace boost::system
