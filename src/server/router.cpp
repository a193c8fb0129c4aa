// Router: segment-wise matching of paths against route patterns.
#include "router.hpp"

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

Router& Router::add(std::string method, std::string pattern, Handler handler) {
  auto segments = split_pattern(pattern);
  routes_.push_back({std::move(method), std::move(pattern), std::move(handler), std::move(segments)});
  return *this;
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  RouteMatch m;
  for (const auto& r : routes_) {
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
  return m;
}

}  // namespace latchkey::server
