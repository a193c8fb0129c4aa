// make_routes: the one routing table.
#include "server/routes.hpp"

#include "server/console/console.hpp"

namespace latchkey::server {

Router make_routes() {
  Router r;
  handlers::add_operations(r);
  handlers::add_sessions(r);
  handlers::add_tokens(r);
  handlers::add_oauth(r);
  handlers::add_oauth2(r);
  handlers::add_ratelimit(r);
  handlers::add_logins(r);
  handlers::add_events(r);
  console::add_routes(r);
  return r;
}

}  // namespace latchkey::server
