// Parsing of redis:// URLs.
#include "latchkey/redis/url.hpp"

#include <charconv>

namespace latchkey::redis {
namespace {

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int v = 0;
    auto [p, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
    if (ec != std::errc() || p != in.data() + i + 3) return false;
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return true;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string Endpoint::describe() const { return host + ":" + std::to_string(port) + "/" + std::to_string(db); }

result<Endpoint> parse_url(std::string_view url, std::string* error) {
  auto fail = [&](const char* why) -> result<Endpoint> {
    if (error) *error = why;
    return make_error_code(errc::config_error);
  };
  constexpr std::string_view scheme = "redis://";
  if (url.starts_with("rediss://")) return fail("TLS (rediss://) is not supported by this build");
  if (!url.starts_with(scheme)) return fail("must start with redis://");
  url.remove_prefix(scheme.size());

  Endpoint ep;
  std::string_view authority = url.substr(0, url.find('/'));
  std::string_view path = authority.size() < url.size() ? url.substr(authority.size() + 1) : std::string_view{};

  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    std::string_view user = colon == std::string_view::npos ? std::string_view{} : userinfo.substr(0, colon);
    std::string_view pass = colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1);
    if (!percent_decode(user, ep.user) || !percent_decode(pass, ep.password))
      return fail("bad percent-escape in the credentials");
  }

  std::string_view host = authority;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || !parse_number(rest.substr(1), ep.port)) return fail("bad port");
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    if (!parse_number(authority.substr(colon + 1), ep.port)) return fail("bad port");
  }
  if (host.empty()) return fail("missing host");
  if (ep.port == 0) return fail("port must be 1-65535");
  ep.host = std::string(host);

  if (auto q = path.find('?'); q != std::string_view::npos) return fail("query parameters are not supported");
  if (!path.empty()) {
    if (!parse_number(path, ep.db) || ep.db < 0 || ep.db > 1000000)
      return fail("database must be a non-negative integer");
  }
  return ep;
}

}  // namespace latchkey::redis
