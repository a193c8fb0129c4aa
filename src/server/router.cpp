// Router: segment-wise matching of paths against route patterns.
#include "server/router.hpp"

#include <algorithm>
#include <utility>

namespace latchkey::server {
namespace {

std::vector<std::string> split_pattern(std::string_view pattern) {
  std::vector<std::string> out;
  if (!pattern.empty() && pattern.front() == '/') pattern.remove_prefix(1);
  for (;;) {
    auto j = pattern.find('/');
    out.emplace_back(pattern.substr(0, j));
    if (j == std::string_view::npos) break;
    pattern.remove_prefix(j + 1);
  }
  return out;
}

bool is_param(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// Walks the path segment by segment, without allocating unless it matches with parameters.
bool match_segments(const std::vector<std::string>& pattern, std::string_view path,
                    std::vector<std::pair<std::string, std::string>>* params) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::size_t i = 0;
  for (;;) {
    auto j = path.find('/');
    std::string_view seg = path.substr(0, j);
    if (i >= pattern.size()) return false;
    const std::string& p = pattern[i];
    if (is_param(p)) {
      if (seg.empty()) return false;
      if (params) params->emplace_back(p.substr(1, p.size() - 2), std::string(seg));
    } else if (p != seg) {
      return false;
    }
    ++i;
    if (j == std::string_view::npos) break;
    path.remove_prefix(j + 1);
  }
  return i == pattern.size();
}

}  // namespace

std::string_view access_name(Access a) noexcept {
  switch (a) {
    case Access::public_: return "public";
    case Access::oauth_client: return "oauth_client";
    case Access::admin: return "admin";
    case Access::admin_read: return "admin_read";
  }
  return "admin";
}

std::string listeners_name(unsigned listeners) {
  std::string out;
  for (auto [bit, name] : {std::pair{public_listener, "public"},
                           {admin_listener, "admin"},
                           {metrics_listener, "metrics"},
                           {console_listener, "console"}}) {
    if (!(listeners & bit)) continue;
    if (!out.empty()) out += '+';
    out += name;
  }
  return out;
}

Router& Router::add(std::string method, std::string pattern, Access access, unsigned listeners, Handler handler) {
  auto segments = split_pattern(pattern);
  routes_.push_back(
      {std::move(method), std::move(pattern), access, listeners, std::move(handler), std::move(segments)});
  return *this;
}

RouteMatch Router::match(std::string_view method, std::string_view path, unsigned listeners) const {
  RouteMatch m;
  for (const auto& r : routes_) {
    if (!(r.listeners & listeners)) continue;
    if (!match_segments(r.segments, path, nullptr)) continue;
    if (r.method == method) {
      m.result = RouteMatch::outcome::found;
      m.route = &r;
      match_segments(r.segments, path, &m.params);
      return m;
    }
    m.result = RouteMatch::outcome::method_not_allowed;
    if (m.allow.find(r.method) == std::string::npos) {
      if (!m.allow.empty()) m.allow += ", ";
      m.allow += r.method;
    }
  }
  if (m.result == RouteMatch::outcome::not_found) {
    std::string_view first = path.substr(path.starts_with('/') ? 1 : 0);
    first = first.substr(0, first.find('/'));
    for (const auto& r : routes_) {
      if (!(r.listeners & listeners) || (r.access != Access::admin && r.access != Access::admin_read)) continue;
      if (!r.segments.empty() && r.segments.front() == first) {
        m.under_admin_prefix = true;
        break;
      }
    }
  }
  return m;
}

std::string describe_routes(const Router& router, bool json) {
  // Every value is from our own table (methods, patterns of [a-z0-9_./{}-], closed names), so
  // the JSON needs no escaping.
  std::string out;
  if (json) out += "[";
  bool first = true;
  for (const auto& r : router.routes()) {
    if (json) {
      out += first ? "\n  " : ",\n  ";
      out += "{\"method\":\"" + r.method + "\",\"path\":\"" + r.pattern + "\",\"access\":\"" +
             std::string(access_name(r.access)) + "\",\"listener\":\"" + listeners_name(r.listeners) + "\"}";
    } else {
      std::string line = r.method;
      line.resize(std::max<std::size_t>(line.size() + 1, 8), ' ');
      line += r.pattern;
      line.resize(std::max<std::size_t>(line.size() + 1, 52), ' ');
      line += access_name(r.access);
      line.resize(std::max<std::size_t>(line.size() + 1, 66), ' ');
      line += listeners_name(r.listeners);
      out += line + "\n";
    }
    first = false;
  }
  if (json) out += "\n]\n";
  return out;
}

}  // namespace latchkey::server
