// Parsing of Redis URLs (standalone, TLS, Sentinel).
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

// host[:port] or [v6][:port]; `why` set on failure.
bool parse_host_port(std::string_view authority, std::uint16_t default_port, HostPort& out, const char*& why) {
  std::string_view host = authority;
  out.port = default_port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return why = "unterminated IPv6 address", false;
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !parse_number(rest.substr(1), out.port)))
      return why = "bad port", false;
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    if (!parse_number(authority.substr(colon + 1), out.port)) return why = "bad port", false;
  }
  if (host.empty()) return why = "missing host", false;
  if (out.port == 0) return why = "port must be 1-65535", false;
  out.host = std::string(host);
  return true;
}

bool parse_db(std::string_view s, int& db) { return parse_number(s, db) && db >= 0 && db <= 1000000; }

}  // namespace

std::string HostPort::describe() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Endpoint::describe() const { return HostPort{host, port}.describe() + "/" + std::to_string(db); }

std::string Target::describe() const {
  if (cluster()) {
    std::string out = "cluster via ";
    for (std::size_t i = 0; i < seeds.size(); ++i) out += (i ? "," : "") + seeds[i].describe();
    return out;
  }
  if (!sentinel()) return node.describe();
  std::string out = "sentinel master '" + master_name + "' via ";
  for (std::size_t i = 0; i < sentinels.size(); ++i) out += (i ? "," : "") + sentinels[i].describe();
  return out + " /" + std::to_string(node.db);
}

result<Target> parse_target(std::string_view url, std::string* error) {
  auto fail = [&](const char* why) -> result<Target> {
    if (error) *error = why;
    return make_error_code(errc::config_error);
  };
  enum class Kind { node, sentinel, cluster };
  struct Scheme {
    std::string_view prefix;
    bool tls;
    Kind kind;
  };
  static constexpr Scheme schemes[] = {{"redis://", false, Kind::node},
                                       {"rediss://", true, Kind::node},
                                       {"redis+sentinel://", false, Kind::sentinel},
                                       {"rediss+sentinel://", true, Kind::sentinel},
                                       {"redis+cluster://", false, Kind::cluster},
                                       {"rediss+cluster://", true, Kind::cluster}};
  const Scheme* scheme = nullptr;
  for (const auto& s : schemes)
    if (url.starts_with(s.prefix)) scheme = &s;
  if (!scheme)
    return fail(
        "must start with redis://, rediss://, redis+sentinel://, rediss+sentinel://, redis+cluster:// or "
        "rediss+cluster://");
  url.remove_prefix(scheme->prefix.size());
  const bool sentinel = scheme->kind == Kind::sentinel;
  Target t;
  t.node.tls = scheme->tls;
  if (url.find('?') != std::string_view::npos || url.find('#') != std::string_view::npos)
    return fail("URL query parameters are not supported (every setting is an option of its own)");

  std::string_view authority = url.substr(0, url.find('/'));
  std::string_view path = authority.size() < url.size() ? url.substr(authority.size() + 1) : std::string_view{};

  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    std::string_view user = colon == std::string_view::npos ? std::string_view{} : userinfo.substr(0, colon);
    std::string_view pass = colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1);
    if (!percent_decode(user, t.node.user) || !percent_decode(pass, t.node.password))
      return fail("bad percent-escape in the credentials");
  }

  const char* why = "";
  // A comma-separated list of host[:port], at least one.
  auto host_list = [&](std::uint16_t default_port, std::vector<HostPort>& out) {
    while (!authority.empty()) {
      auto comma = authority.find(',');
      HostPort hp;
      if (!parse_host_port(authority.substr(0, comma), default_port, hp, why)) return false;
      out.push_back(std::move(hp));
      if (comma == std::string_view::npos) break;
      authority.remove_prefix(comma + 1);
      if (authority.empty()) return why = "missing host after ','", false;
    }
    return true;
  };
  if (scheme->kind == Kind::cluster) {
    if (!host_list(6379, t.seeds)) return fail(why);
    if (t.seeds.empty()) return fail("a Cluster URL needs at least one seed node");
    if (!path.empty() && path != "0")
      return fail("Redis Cluster has database 0 only: redis+cluster://host:port,host:port[/0]");
    t.node.host.clear();
    t.node.port = 0;
    return t;
  }
  if (!sentinel) {
    if (authority.find(',') != std::string_view::npos)
      return fail("several hosts need redis+sentinel:// or redis+cluster://");
    HostPort hp;
    if (!parse_host_port(authority, 6379, hp, why)) return fail(why);
    t.node.host = hp.host;
    t.node.port = hp.port;
    if (!path.empty() && !parse_db(path, t.node.db)) return fail("database must be a non-negative integer");
    return t;
  }

  if (!host_list(26379, t.sentinels)) return fail(why);
  if (t.sentinels.empty()) return fail("a Sentinel URL needs at least one sentinel host");
  auto slash = path.find('/');
  t.master_name = std::string(path.substr(0, slash));
  if (t.master_name.empty())
    return fail("a Sentinel URL needs the name of the master: redis+sentinel://host:port,host:port/<master-name>[/db]");
  for (char c : t.master_name)
    if (static_cast<unsigned char>(c) <= ' ' || c == '%')
      return fail("the master name must be printable, without spaces");
  if (slash != std::string_view::npos && !parse_db(path.substr(slash + 1), t.node.db))
    return fail("database must be a non-negative integer");
  t.node.host.clear();
  t.node.port = 0;
  return t;
}

result<Endpoint> parse_url(std::string_view url, std::string* error) {
  auto t = parse_target(url, error);
  if (!t) return t.error();
  if (t->sentinel() || t->cluster()) {
    if (error) *error = "a single node is needed here (redis:// or rediss://), not a Sentinel or Cluster URL";
    return make_error_code(errc::config_error);
  }
  return std::move(t->node);
}

std::string tls_verify_name(const TlsSettings& tls, std::string_view host) {
  return tls.server_name.empty() ? std::string(host) : tls.server_name;
}

}  // namespace latchkey::redis
