// The HTTP vocabulary of handlers, free of Beast: handlers see an HttpRequest and return an
// HttpResponse; only transport.cpp knows the wire. Errors use the one body shape of API.md,
// {"error", "error_description"}, with the one errc -> status mapping in http.cpp.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/events.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latchkey {
class Metrics;
struct Config;
namespace redis {
class Connection;
}
}  // namespace latchkey

namespace latchkey::server {

struct Services;
class AdminKeys;

// Who may call a route (the route table names it; dispatch applies it). It is also the
// surface an error is answered on: the RFC endpoints (oauth_client) answer RFC 6749's way.
enum class Access : std::uint8_t {
  public_,       // anyone: health, JWKS, OAuth metadata
  oauth_client,  // an OAuth client, authenticated by the handler from the form (RFC 6749 2.3)
  admin,         // an admin API key (Authorization: Bearer)
  admin_read,    // an admin API key; the route only reads
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // upper case, e.g. "GET"
  std::string path;    // without the query string
  std::string query;   // without '?'
  Headers headers;     // names in lower case
  std::string body;
  std::string remote;  // client address: the TCP peer, or the forwarded client when the peer is a trusted proxy

  std::string_view header(std::string_view lower_name) const noexcept;
};

// The value of cookie `name` in the request's Cookie headers (the first one), if any.
std::optional<std::string_view> cookie_value(const HttpRequest& req, std::string_view name);

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;

  static HttpResponse json(unsigned status, const boost::json::value& v);
  static HttpResponse empty(unsigned status);
};

// The one errc -> HTTP status mapping. The RFC endpoints (Access::oauth_client) differ only
// where RFC 6749 says so: invalid_grant is 400 there (5.2) and 401 on the admin API.
unsigned http_status(errc e, Access surface = Access::admin) noexcept;
// The error response of API.md: {"error", "error_description"} with the status of the code;
// engine-internal codes go out as `unavailable` (503, with Retry-After) or `internal` (500);
// a 401 carries the challenge of its scheme (Bearer for the admin key, Basic for an OAuth
// client); the RFC endpoints add Pragma: no-cache. An empty description is the code's
// standard text.
// `extra` members go beside the two (a login refusal's retry_after, an authorization
// refusal's redirect_to).
HttpResponse error_response(const Failure& failure, unsigned retry_after_seconds = 1, Access surface = Access::admin,
                            boost::json::object extra = {});
inline HttpResponse error_response(errc e, std::string_view description, unsigned retry_after_seconds = 1) {
  return error_response(Failure(e, std::string(description)), retry_after_seconds);
}

// What a handler may use. References stay valid for the whole request.
struct RequestContext {
  const HttpRequest& request;
  std::vector<std::pair<std::string, std::string>> params;  // path parameters
  std::string request_id;
  const Config& config;
  const Services& services;  // built from the key rings; handlers never see raw secrets
  redis::Connection& redis;  // this shard's connection
  Metrics& metrics;          // this shard's metrics
  const std::vector<const Metrics*>& all_metrics;
  Access access = Access::admin;  // the route's: the surface its errors are answered on
  // Server::reload (POST /v1/server/reload); null where no server runs the handler.
  const std::function<std::optional<std::string>(std::string* summary)>* reload = nullptr;
  // Security events of this request: its id and the client address filled in.
  events::Scope events;
  const events::Codec* event_codec = nullptr;  // how GET /v1/events reads them back
  const AdminKeys* admin_keys = nullptr;       // the console's login exchanges a key for a session

  std::string_view param(std::string_view name) const noexcept;
};

using Handler = std::function<boost::asio::awaitable<HttpResponse>(RequestContext&)>;

// A failure (an engine error_code converts) as answered on this request's route, with
// Retry-After from the config. Failures of 500 and 503 always get the standard text.
HttpResponse engine_error(const RequestContext& ctx, const Failure& failure, boost::json::object extra = {});

// Percent-decodes a path segment or query value; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s);
// The value of one query parameter (decoded), nullopt when absent or malformed.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

// An application/x-www-form-urlencoded body (RFC 6749 3.1, 3.2, Appendix B): name=value pairs
// separated by '&', '+' meaning a space, percent-escapes decoded. Parameters sent without a
// value are treated as omitted (dropped); a name sent twice is an error (RFC 6749 3.1), as is
// a malformed escape, text that is not UTF-8, and more than kMaxFormParams parameters. On
// error: nullopt and `why`.
inline constexpr std::size_t kMaxFormParams = 32;
std::optional<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view body, std::string& why);

// Client credentials from `Authorization: Basic ...` (RFC 6749 2.3.1: client id and secret are
// each form-urlencoded, joined by ':', then base64). nullopt when the header is not Basic or
// is malformed.
struct BasicCredentials {
  std::string id;
  std::string secret;
};
std::optional<BasicCredentials> parse_basic(std::string_view authorization);

// Reads the body as a JSON object: 415 unless Content-Type is application/json, 400 on
// malformed JSON, nesting deeper than 32, or a non-object document.
// `storage` lets a handler parse into its own (e.g. monotonic) memory.
[[nodiscard]] result<boost::json::object> parse_json_object(const HttpRequest& req, std::string& why,
                                                            boost::json::storage_ptr storage = {});

// Appends `s` to `out` as a JSON string literal (quoted, escaped).
void append_json_string(std::string& out, std::string_view s);

}  // namespace latchkey::server
