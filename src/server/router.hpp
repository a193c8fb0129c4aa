// The one routing table: (method, path pattern) -> who may call it, which listener serves
// it, and the handler. Patterns are literal segments and `{name}` segments, which match one
// non-empty segment and become path parameters. The pattern doubles as the route's name in
// metrics and logs (never the raw path).
//
// Dispatch (dispatch.cpp) applies the policy: a route is invisible (404) on a listener that
// does not serve it, and an admin route is answered only after the admin key is checked, so
// no handler checks the key itself. `latchkey routes` prints the table.
#pragma once

#include "server/http.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::server {

// Which listeners serve a route: a set of these bits. `listen` serves public routes,
// `admin_listen` the admin API, `metrics_listen` /metrics; the last two default to `listen`.
enum Listener : std::uint8_t {
  public_listener = 1,
  admin_listener = 2,
  metrics_listener = 4,
  every_listener = public_listener | admin_listener | metrics_listener,
  // `console_listen`: the console's own routes, and the admin API its page calls there
  // (authenticated by the console session instead of a key; src/server/console/).
  console_listener = 8,
};

std::string_view access_name(Access a) noexcept;
// "public", "admin", "metrics", or those names joined with '+'.
std::string listeners_name(unsigned listeners);

struct Route {
  std::string method;
  std::string pattern;
  Access access = Access::admin;
  unsigned listeners = admin_listener;
  Handler handler;
  std::vector<std::string> segments;  // the pattern split at '/', computed by Router::add
};

struct RouteMatch {
  enum class outcome { found, not_found, method_not_allowed } result = outcome::not_found;
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  std::string allow;  // for 405: the methods the path does accept, comma-separated
  // For a path without a route: true when an admin route served here shares its first
  // segment (so the admin key is asked for before "no such route" says anything).
  bool under_admin_prefix = false;
};

class Router {
 public:
  Router& add(std::string method, std::string pattern, Access access, unsigned listeners, Handler handler);
  // Only routes served by one of `listeners` are seen.
  [[nodiscard]] RouteMatch match(std::string_view method, std::string_view path,
                                 unsigned listeners = every_listener) const;
  const std::vector<Route>& routes() const noexcept { return routes_; }

 private:
  std::vector<Route> routes_;
};

// The table as text: one route per line (method, pattern, access, listener), or as JSON
// (an array of objects with those four names) for documentation and coverage checks.
std::string describe_routes(const Router& r, bool json);

}  // namespace latchkey::server
