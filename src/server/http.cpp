// HTTP helpers: the one errc -> status mapping, error bodies, JSON bodies.
#include "server/http.hpp"

#include "latchkey/crypto/primitives.hpp"

#include "latchkey/config.hpp"
#include "latchkey/json_names.hpp"
#include "latchkey/utf8.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <unordered_set>

namespace latchkey::server {

std::string_view HttpRequest::header(std::string_view lower_name) const noexcept {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

std::optional<std::string_view> cookie_value(const HttpRequest& req, std::string_view name) {
  for (const auto& [h, value] : req.headers) {
    if (h != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      auto semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  return std::nullopt;
}

std::string_view RequestContext::param(std::string_view name) const noexcept {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return {};
}

HttpResponse HttpResponse::json(unsigned status, const boost::json::value& v) {
  HttpResponse r;
  r.status = status;
  r.body = boost::json::serialize(v);
  return r;
}

HttpResponse HttpResponse::empty(unsigned status) {
  HttpResponse r;
  r.status = status;
  r.content_type.clear();
  return r;
}

unsigned http_status(errc e, Access surface) noexcept {
  switch (e) {
    case errc::ok: return 200;
    case errc::invalid_request:
    case errc::invalid_scope:
    case errc::unauthorized_client:
    case errc::unsupported_grant_type:
    case errc::unsupported_response_type:
    case errc::invalid_redirect_uri:
    case errc::invalid_client_metadata:
    case errc::login_required:
    case errc::invalid_dpop_proof:
    case errc::use_dpop_nonce: return 400;
    case errc::insufficient_scope: return 403;
    case errc::invalid_grant: return surface == Access::oauth_client ? 400 : 401;
    case errc::unauthorized:
    case errc::invalid_client:
    case errc::invalid_session:
    case errc::invalid_token: return 401;
    case errc::forbidden: return 403;
    case errc::not_found: return 404;
    case errc::method_not_allowed: return 405;
    case errc::version_conflict:
    case errc::session_limit_reached: return 409;
    case errc::payload_too_large: return 413;
    case errc::unsupported_media_type: return 415;
    case errc::rate_limited:
    case errc::account_locked: return 429;
    case errc::header_too_large: return 431;
    case errc::unavailable:
    case errc::timeout:
    case errc::redis_error: return 503;
    case errc::protocol_error:
    case errc::crypto_error:
    case errc::config_error:
    case errc::internal: return 500;
  }
  return 500;
}

namespace {
// The text of a failure that brings none of its own.
const char* standard_description(errc e) noexcept {
  switch (e) {
    case errc::invalid_session: return "unknown, expired or malformed session token";
    case errc::version_conflict: return "the session changed since this version was read";
    case errc::session_limit_reached: return "the user has reached the session limit";
    case errc::not_found: return "no such resource";
    case errc::forbidden: return "this admin API key is read-only";
    case errc::invalid_request: return "invalid request";
    case errc::unavailable:
    case errc::timeout:
    case errc::redis_error: return "the store (Redis) is unavailable; retry later";
    case errc::invalid_token: return "invalid, expired or revoked token";
    case errc::invalid_grant: return "invalid, expired, revoked or reused refresh token";
    case errc::invalid_client: return "client authentication failed";
    case errc::unauthorized: return "missing or wrong admin API key";
    default: return "internal error";
  }
}
}  // namespace

HttpResponse error_response(const Failure& f, unsigned retry_after_seconds, Access surface, boost::json::object extra) {
  unsigned status = http_status(f.code, surface);
  // Engine-internal codes reach clients only under their public names.
  errc wire = f.code;
  if (status == 503) wire = errc::unavailable;
  if (status == 500) wire = errc::internal;
  std::string_view description = f.description.empty() ? standard_description(f.code) : std::string_view(f.description);
  boost::json::object body{{"error", error_name(wire)}, {"error_description", description}};
  for (auto& [k, v] : extra) body[k] = std::move(v);
  auto r = HttpResponse::json(status, body);
  if (status == 503) r.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  if (f.code == errc::unauthorized) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"latchkey\"");
  // RFC 6749 5.2: a failed client authentication is challenged for the scheme clients may use.
  if (f.code == errc::invalid_client) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"latchkey\"");
  if (surface == Access::oauth_client) r.headers.emplace_back("Pragma", "no-cache");
  return r;
}

HttpResponse engine_error(const RequestContext& ctx, const Failure& f, boost::json::object extra) {
  unsigned status = http_status(f.code, ctx.access);
  if (status >= 500) return error_response(Failure(f.code), ctx.config.retry_after_seconds, ctx.access);
  return error_response(f, ctx.config.retry_after_seconds, ctx.access, std::move(extra));
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      out += "\\u00";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

result<boost::json::object> parse_json_object(const HttpRequest& req, std::string& why,
                                              boost::json::storage_ptr storage) {
  std::string_view ct = req.header("content-type");
  std::string_view media = ct.substr(0, ct.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  std::string lower(media);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "application/json") {
    why = "Content-Type must be application/json";
    return make_error_code(errc::unsupported_media_type);
  }
  boost::json::parse_options opts;
  opts.max_depth = 32;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(req.body, ec, std::move(storage), opts);
  if (ec) {
    why = "malformed JSON body";
    return make_error_code(errc::invalid_request);
  }
  if (!v.is_object()) {
    why = "the JSON body must be an object";
    return make_error_code(errc::invalid_request);
  }
  // Two "user_id"s: the last would win here, the first in another reader. Refused.
  if (detail::json_has_duplicate_names(req.body)) {
    why = "a member name is repeated in the JSON body";
    return make_error_code(errc::invalid_request);
  }
  return std::move(v.as_object());
}

namespace {
std::optional<std::string> form_decode(std::string_view s) {
  std::string plus(s);
  for (auto& c : plus)
    if (c == '+') c = ' ';
  return percent_decode(plus);
}
}  // namespace

std::optional<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view body, std::string& why) {
  // Bounded before anything is decoded: the count of '&' caps the parameters, and duplicates
  // are found through a hash set (linear), so a hostile body costs one pass.
  if (static_cast<std::size_t>(std::count(body.begin(), body.end(), '&')) >= kMaxFormParams) {
    why = "too many parameters in the form body (at most " + std::to_string(kMaxFormParams) + ")";
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(kMaxFormParams);  // never reallocates: the set below points into these names
  std::unordered_set<std::string_view> seen;
  while (!body.empty()) {
    auto amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto name = form_decode(pair.substr(0, eq));
    auto value = form_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!name || !value) {
      why = "malformed percent-encoding in the form body";
      return std::nullopt;
    }
    if (!valid_utf8(*name) || !valid_utf8(*value)) {
      why = "the form body is not valid UTF-8";
      return std::nullopt;
    }
    if (value->empty()) continue;  // RFC 6749 3.1: sent without a value = omitted
    out.emplace_back(std::move(*name), std::move(*value));
    if (!seen.insert(out.back().first).second) {
      why = "parameter '" + out.back().first + "' is repeated";
      return std::nullopt;
    }
  }
  return out;
}

std::optional<BasicCredentials> parse_basic(std::string_view authorization) {
  if (authorization.size() < 6) return std::nullopt;
  std::string scheme(authorization.substr(0, 6));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "basic ") return std::nullopt;
  std::string_view b64 = authorization.substr(6);
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  // Standard base64 with padding (RFC 7617), converted to the base64url our decoder takes.
  std::string url(b64);
  while (!url.empty() && url.back() == '=') url.pop_back();
  for (auto& c : url) {
    if (c == '+')
      c = '-';
    else if (c == '/')
      c = '_';
    else if (c == '-' || c == '_')
      return std::nullopt;
  }
  auto raw = crypto::base64url_decode(url);
  if (!raw) return std::nullopt;
  auto colon = raw->find(':');
  if (colon == std::string::npos) return std::nullopt;
  auto id = form_decode(std::string_view(*raw).substr(0, colon));
  auto secret = form_decode(std::string_view(*raw).substr(colon + 1));
  if (!id || !secret || id->empty()) return std::nullopt;
  return BasicCredentials{std::move(*id), std::move(*secret)};
}

}  // namespace latchkey::server
