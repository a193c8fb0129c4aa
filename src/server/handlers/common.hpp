// Helpers shared by the JSON handlers of src/server/handlers/.
#pragma once

#include "server/http.hpp"

#include "latchkey/events.hpp"
#include "latchkey/identity.hpp"
#include "latchkey/logins.hpp"

#include <boost/json/object.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace latchkey::server::handlers {

// A refusal with its reason, answered on this route's surface by the one mapping
// (engine_error): refuse(ctx, errc::invalid_client, "...").
HttpResponse refuse(const RequestContext& ctx, errc code, std::string description);
// 400 invalid_request with this description.
inline HttpResponse bad(const RequestContext& ctx, std::string description) {
  return refuse(ctx, errc::invalid_request, std::move(description));
}

// The body as an object with only the allowed fields (unknown ones are refused, naming the
// field, so a typo never silently falls back to a default); or the error response.
std::variant<boost::json::object, HttpResponse> read_body(const RequestContext& ctx,
                                                          std::initializer_list<std::string_view> allowed,
                                                          boost::json::storage_ptr storage = {});

// The `limit` query parameter: absent, `fallback`; else an integer from 1 to 1000, or the
// 400 that says so.
std::variant<std::size_t, HttpResponse> limit_param(const RequestContext& ctx, std::size_t fallback);
inline constexpr std::size_t kMaxPageLimit = 1000;

// A refused login check as POST /v1/logins/check answers it (429 account_locked or
// rate_limited, retry_after, locked_until, Retry-After), and the events of a reported
// failure: `failure_type` (login_failure, console_login_failure), lockout, ip_blocked.
HttpResponse login_refused(const RequestContext& ctx, const logins::Verdict& v);
void login_failure_events(const RequestContext& ctx, const std::string& user_id, const std::string& ip,
                          const logins::FailureResult& f, events::Type failure_type);

// The percent-decoded {user_id} path parameter, when valid.
std::optional<std::string> user_param(const RequestContext& ctx);
inline constexpr const char* kBadUserParam =
    "user_id must be 1-256 bytes of UTF-8 without control characters (percent-encoded in the path)";

}  // namespace latchkey::server::handlers
