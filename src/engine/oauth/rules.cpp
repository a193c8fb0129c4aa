// OAuth, the pure part: redirect URI rules and matching, scopes, PKCE, query building (no
// I/O; unit-tested in tests/engine/oauth/rules_test.cpp).
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/oauth.hpp"

#include <algorithm>

namespace latchkey::oauth {

namespace {

bool loopback_host(std::string_view host) { return host == "127.0.0.1" || host == "[::1]" || host == "localhost"; }

template <class F>
void for_each_token(std::string_view s, F f) {
  while (!s.empty()) {
    auto sp = s.find(' ');
    f(s.substr(0, sp));
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
}

}  // namespace

std::optional<UriParts> split_uri(std::string_view uri) {
  UriParts p;
  auto colon = uri.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  p.scheme = uri.substr(0, colon);
  std::string_view after = uri.substr(colon + 3);
  auto end = after.find_first_of("/?");
  std::string_view authority = after.substr(0, end);
  p.rest = end == std::string_view::npos ? std::string_view() : after.substr(end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    p.host = authority.substr(0, close + 1);
    std::string_view tail = authority.substr(close + 1);
    if (!tail.empty()) {
      if (tail.front() != ':') return std::nullopt;
      p.port = tail.substr(1);
    }
  } else {
    auto c = authority.rfind(':');
    p.host = authority.substr(0, c);
    if (c != std::string_view::npos) p.port = authority.substr(c + 1);
  }
  if (p.host.empty()) return std::nullopt;
  if (!p.port.empty()) {
    if (p.port.size() > 5 || !std::all_of(p.port.begin(), p.port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      return std::nullopt;
    if (std::stoul(std::string(p.port)) > 65535) return std::nullopt;
  }
  return p;
}

const char* auth_method_name(AuthMethod m) noexcept {
  switch (m) {
    case AuthMethod::client_secret_basic: return "client_secret_basic";
    case AuthMethod::client_secret_post: return "client_secret_post";
    case AuthMethod::none: return "none";
  }
  return "?";
}

std::optional<AuthMethod> auth_method_from_name(std::string_view s) noexcept {
  for (AuthMethod m : {AuthMethod::client_secret_basic, AuthMethod::client_secret_post, AuthMethod::none})
    if (s == auth_method_name(m)) return m;
  return std::nullopt;
}

bool publishable_issuer(std::string_view issuer) {
  auto p = split_uri(issuer);
  if (!p || p->rest.find_first_of("?#") != std::string_view::npos) return false;
  return p->scheme == "https" || (p->scheme == "http" && loopback_host(p->host));
}

bool Client::allows_grant(std::string_view g) const noexcept {
  return std::find(grant_types.begin(), grant_types.end(), g) != grant_types.end();
}

bool valid_redirect_uri(std::string_view uri, std::string* why) {
  auto fail = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  if (uri.empty() || uri.size() > 2000) return fail("must be 1-2000 bytes");
  for (unsigned char c : uri)
    if (c <= 0x20 || c >= 0x7f) return fail("must not contain spaces, control or non-ASCII characters");
  if (uri.find('#') != std::string_view::npos) return fail("must not contain a fragment (RFC 6749 3.1.2)");
  auto p = split_uri(uri);
  if (!p) return fail("must be an absolute URI with a host and no userinfo");
  if (p->scheme == "https") return true;
  if (p->scheme == "http" && loopback_host(p->host)) return true;
  return fail("must use https (http only for a loopback host: 127.0.0.1, [::1], localhost)");
}

bool redirect_uri_matches(std::string_view registered, std::string_view presented) {
  if (registered == presented) return true;
  // RFC 8252 7.3: a native app's loopback redirect may use any port.
  auto r = split_uri(registered);
  auto p = split_uri(presented);
  if (!r || !p || r->scheme != "http" || p->scheme != "http" || !loopback_host(r->host)) return false;
  return r->host == p->host && r->rest == p->rest && presented.find('#') == std::string_view::npos;
}

bool valid_scope(std::string_view s) {
  if (s.empty() || s.size() > 1024 || s.front() == ' ' || s.back() == ' ') return false;
  char prev = 0;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ' ') {
      if (prev == ' ') return false;
    } else if (c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e) {
      return false;
    }
    prev = ch;
  }
  return true;
}

bool scope_within(std::string_view requested, std::string_view allowed) {
  bool ok = true;
  for_each_token(requested, [&](std::string_view r) {
    bool found = false;
    for_each_token(allowed, [&](std::string_view a) { found = found || a == r; });
    ok = ok && found;
  });
  return ok;
}

bool valid_client_id(std::string_view id) { return crypto::is_random_token(id, 16); }

bool valid_code_verifier(std::string_view v) {
  if (v.size() < 43 || v.size() > 128) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
  });
}

std::string s256_challenge(std::string_view verifier) { return crypto::sha256_base64url(verifier); }

std::string add_query(std::string_view uri, const std::vector<std::pair<std::string, std::string>>& params) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out(uri);
  char sep = uri.find('?') == std::string_view::npos ? '?' : (uri.back() == '?' || uri.back() == '&' ? '\0' : '&');
  for (const auto& [k, v] : params) {
    if (sep) out.push_back(sep);
    sep = '&';
    out += k;
    out.push_back('=');
    for (unsigned char c : v) {
      bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '.' || c == '_' || c == '~';
      if (unreserved) {
        out.push_back(static_cast<char>(c));
      } else {
        out.push_back('%');
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
    }
  }
  return out;
}

std::optional<std::string> presented_client_id(const PresentedClient& p) {
  if (p.basic) return p.basic_id;
  if (p.body_id && !p.body_id->empty()) return p.body_id;
  return std::nullopt;
}

ClientAuthFailure check_client_auth(const Client& c, const PresentedClient& p, MethodRule rule) {
  // Two methods at once (RFC 6749 2.3: MUST NOT use more than one).
  if (p.basic && p.body_secret) return ClientAuthFailure::malformed;
  if (p.basic && p.body_id && *p.body_id != p.basic_id) return ClientAuthFailure::malformed;
  std::optional<std::string_view> secret;
  AuthMethod used = AuthMethod::none;
  if (p.basic) {
    used = AuthMethod::client_secret_basic;
    secret = p.basic_secret;
  } else if (p.body_secret) {
    used = AuthMethod::client_secret_post;
    secret = *p.body_secret;
  }
  if (c.is_public()) {
    // A public client identifies itself by client_id only; any secret (Basic with an empty
    // secret included) is refused rather than ignored.
    if (used != AuthMethod::none) return ClientAuthFailure::wrong_method;
    return ClientAuthFailure::none;
  }
  if (used == AuthMethod::none) return ClientAuthFailure::bad_secret;
  if (used != c.auth_method && rule == MethodRule::registered) return ClientAuthFailure::wrong_method;
  if (!secret || secret->empty() || c.secret_hash.empty()) return ClientAuthFailure::bad_secret;
  auto presented = crypto::sha256_base64url(*secret);
  return crypto::constant_time_equal(presented, c.secret_hash) ? ClientAuthFailure::none
                                                               : ClientAuthFailure::bad_secret;
}

}  // namespace latchkey::oauth
