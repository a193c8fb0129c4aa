// The latchkey error category: names and messages of errc.
#include "latchkey/error.hpp"

#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

namespace latchkey {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "latchkey"; }
  std::string message(int ev) const override { return error_name(static_cast<errc>(ev)); }
};

}  // namespace

const boost::system::error_category& latchkey_category() noexcept {
  static const category cat;
  return cat;
}

const char* error_name(errc e) noexcept {
  switch (e) {
    case errc::ok: return "ok";
    case errc::invalid_request: return "invalid_request";
    case errc::unauthorized: return "unauthorized";
    case errc::invalid_session: return "invalid_session";
    case errc::invalid_token: return "invalid_token";
    case errc::invalid_grant: return "invalid_grant";
    case errc::invalid_scope: return "invalid_scope";
    case errc::invalid_client: return "invalid_client";
    case errc::unauthorized_client: return "unauthorized_client";
    case errc::unsupported_grant_type: return "unsupported_grant_type";
    case errc::unsupported_response_type: return "unsupported_response_type";
    case errc::invalid_redirect_uri: return "invalid_redirect_uri";
    case errc::invalid_client_metadata: return "invalid_client_metadata";
    case errc::login_required: return "login_required";
    case errc::invalid_dpop_proof: return "invalid_dpop_proof";
    case errc::use_dpop_nonce: return "use_dpop_nonce";
    case errc::insufficient_scope: return "insufficient_scope";
    case errc::forbidden: return "forbidden";
    case errc::not_found: return "not_found";
    case errc::method_not_allowed: return "method_not_allowed";
    case errc::version_conflict: return "version_conflict";
    case errc::session_limit_reached: return "session_limit_reached";
    case errc::payload_too_large: return "payload_too_large";
    case errc::unsupported_media_type: return "unsupported_media_type";
    case errc::header_too_large: return "header_too_large";
    case errc::rate_limited: return "rate_limited";
    case errc::account_locked: return "account_locked";
    case errc::unavailable: return "unavailable";
    case errc::timeout: return "timeout";
    case errc::redis_error: return "redis_error";
    case errc::protocol_error: return "protocol_error";
    case errc::crypto_error: return "crypto_error";
    case errc::config_error: return "config_error";
    case errc::internal: return "internal";
  }
  return "internal";
}

void throw_exception_from_error(const Failure& f, const boost::source_location& loc) {
  boost::throw_exception(boost::system::system_error(make_error_code(f.code), f.description), loc);
}

}  // namespace latchkey
