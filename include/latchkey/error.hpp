// The one error vocabulary of the engine. Every fallible engine call returns result<T> whose
// error is an errc from this category, or outcome<T> when the failure carries a reason for
// the caller (a Failure: the code and its description). The HTTP layer maps errc to status
// in exactly one place (http_status in src/server/http.cpp). Codes are chosen by meaning,
// not by HTTP status; the OAuth codes are RFC 6749's own (5.2, 4.1.2.1).
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <system_error>

namespace latchkey {

enum class errc {
  ok = 0,
  invalid_request,            // malformed input (400)
  unauthorized,               // missing or wrong admin API key (401)
  forbidden,                  // a read-only admin API key on a route that writes (403)
  invalid_session,            // unknown, expired or malformed session token (401)
  invalid_token,              // JWT failed verification (401)
  invalid_grant,              // refresh token / code invalid, reused or expired
  invalid_scope,              // requested scope exceeds what was granted (OAuth, 400)
  invalid_client,             // OAuth client authentication failed (RFC 6749 5.2, 401)
  unauthorized_client,        // the client may not use this grant or response type (400)
  unsupported_grant_type,     // (RFC 6749 5.2, 400)
  unsupported_response_type,  // (RFC 6749 4.1.2.1, 400)
  invalid_redirect_uri,       // client registration (RFC 7591 3.2.2, 400)
  invalid_client_metadata,    // client registration (RFC 7591 3.2.2, 400)
  login_required,             // OIDC Core 3.1.2.6: the login is older than max_age (400)
  invalid_dpop_proof,         // RFC 9449 7.1/5: a DPoP proof missing, malformed, replayed or not for this request (400)
  use_dpop_nonce,             // RFC 9449 8: the proof must carry the server's nonce (400, DPoP-Nonce header)
  insufficient_scope,         // RFC 6750 3.1: the access token lacks the scope (403)
  not_found,                  // unknown id (404)
  method_not_allowed,         // route exists, method does not (405)
  version_conflict,           // optimistic concurrency lost (409)
  session_limit_reached,      // per-user limit with reject_new (409)
  payload_too_large,          // body over the configured limit (413)
  unsupported_media_type,     // wrong Content-Type (415)
  header_too_large,           // request headers over the limit (431)
  rate_limited,               // rate limit denied (429)
  account_locked,             // login lockout (429)
  unavailable,                // Redis unreachable, timed out or refusing writes (503)
  timeout,                    // a deadline passed (engine-internal; maps to unavailable)
  redis_error,                // Redis answered with an error reply where none was expected
  protocol_error,             // malformed RESP or an unexpected reply shape
  crypto_error,               // decryption / authentication failure (uniform on purpose)
  config_error,               // invalid configuration (start-up only)
  internal,                   // a bug: should never reach a client with details
};

const boost::system::error_category& latchkey_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), latchkey_category()}; }

// The stable wire name of a code, as used in {"error": "..."} bodies.
const char* error_name(errc e) noexcept;

template <class T>
using result = boost::system::result<T, boost::system::error_code>;

// A failure that carries its reason: the code (which decides the status) and a description
// for the caller (never a secret; empty: the code's standard text). Converts from an engine
// error_code, so a plain failure passes through unchanged.
struct Failure {
  errc code = errc::internal;
  std::string description;

  Failure() = default;
  Failure(errc c, std::string d = {}) : code(c), description(std::move(d)) {}
  Failure(const boost::system::error_code& ec)
      : code(ec.category() == latchkey_category() ? static_cast<errc>(ec.value()) : errc::internal) {}
};

// boost::system::result's value() on an error throws this.
[[noreturn]] void throw_exception_from_error(const Failure& f, const boost::source_location& loc);

template <class T, class E = Failure>
using outcome = boost::system::result<T, E>;

// A plain engine result as an outcome (its error as a Failure without a reason of its own).
template <class T>
[[nodiscard]] outcome<T> as_outcome(result<T>&& r) {
  if (r) return std::move(*r);
  return Failure(r.error());
}

}  // namespace latchkey

namespace boost::system {
template <>
struct is_error_code_enum<latchkey::errc> : std::true_type {};
}  // namespace boost::system
