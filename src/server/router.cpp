// Router: segment-wise matching of paths against route patterns.
#include "router.hpp"

namespace latchkey::server {
namespace {

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  if (!path.empty() && path.front() == '/') i = 1;
  while (i <= path.size()) {
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool match_pattern(std::string_view pattern, std::string_view path,
                   std::vector<std::pair<std::string, std::string>>* params) {
  auto ps = split(pattern);
  auto xs = split(path);
  if (ps.size() != xs.size()) return false;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    if (ps[i].size() >= 2 && ps[i].front() == '{' && ps[i].back() == '}') {
      if (xs[i].empty()) return false;
      if (params) params->emplace_back(std::string(ps[i].substr(1, ps[i].size() - 2)), std::string(xs[i]));
    } else if (ps[i] != xs[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

Router& Router::add(std::string method, std::string pattern, Handler handler) {
  routes_.push_back({std::move(method), std::move(pattern), std::move(handler)});
  return *this;
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  RouteMatch m;
  for (const auto& r : routes_) {
    std::vector<std::pair<std::string, std::string>> params;
    if (!match_pattern(r.pattern, path, &params)) continue;
    if (r.method == method) {
      m.result = RouteMatch::outcome::found;
      m.route = &r;
      m.params = std::move(params);
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
