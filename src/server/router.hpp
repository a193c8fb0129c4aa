// The one routing table: (method, path pattern) -> handler. Patterns are literal segments
// and `{name}` segments, which match one non-empty segment and become path parameters. The
// pattern doubles as the route's name in metrics and logs (never the raw path).
#pragma once

#include "http.hpp"

#include <string>
#include <vector>

namespace latchkey::server {

struct Route {
  std::string method;
  std::string pattern;
  Handler handler;
  std::vector<std::string> segments;  // the pattern split at '/', computed by Router::add
};

struct RouteMatch {
  enum class outcome { found, not_found, method_not_allowed } result = outcome::not_found;
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  std::string allow;  // for 405: the methods the path does accept, comma-separated
};

class Router {
 public:
  Router& add(std::string method, std::string pattern, Handler handler);
  RouteMatch match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const noexcept { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace latchkey::server
