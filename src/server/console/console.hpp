// The admin console in the browser, served on `console_listen` (a listener of its own):
//   GET  /console/ and /console/{asset}  the page (assets embedded at build time from console/)
//   POST /console/login                  {"key": admin API key} -> a console session (cookie)
//   GET  /console/session                the session's grant and CSRF token
//   POST /console/logout                 ends it
// A console session is latchkey's own session (user `latchkey-console`, cookie
// __Host-latchkey-console, HttpOnly, Secure, SameSite=Strict, console_idle_ttl /
// console_absolute_ttl), holding the grant of the key it was exchanged for and a CSRF token.
// The page calls the admin API on the same listener: there dispatch authenticates by the
// session (authenticate() below) instead of a key, and every write must carry X-CSRF-Token.
// Failed logins go through latchkey's own lockout (account "console@<client address>").
#pragma once

#include "server/admin_keys.hpp"
#include "server/http.hpp"

#include <boost/asio/awaitable.hpp>

#include <string_view>

namespace latchkey {
struct Config;
namespace redis {
class Connection;
}
}  // namespace latchkey

namespace latchkey::server {
class Router;
struct Services;
}  // namespace latchkey::server

namespace latchkey::server::console {

inline constexpr std::string_view kCookie = "__Host-latchkey-console";
inline constexpr std::string_view kUser = "latchkey-console";

void add_routes(Router& r);

// A request to an admin route on the console listener: the grant of its console session
// (none without a live one), and whether a write lacked the session's CSRF token.
struct Authenticated {
  AdminGrant grant = AdminGrant::none;
  bool csrf_refused = false;
  bool unavailable = false;  // Redis could not say (503, never a 401)
};
boost::asio::awaitable<Authenticated> authenticate(const HttpRequest& req, bool write, const Services& services,
                                                   redis::Connection& redis);

// The headers of every answer on the console listener: CSP (default-src 'self',
// frame-ancestors 'none'), Cache-Control: no-store, nosniff, no referrer, no framing.
void secure(HttpResponse& r);

// An embedded asset of console/ by file name ("index.html"); null when there is none.
struct Asset {
  std::string_view name, content_type, body;
};
const Asset* asset(std::string_view name);

}  // namespace latchkey::server::console
