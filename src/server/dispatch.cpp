// What happens to a request once it is parsed: the route table's policy (listener, admin
// key), the handler call with this shard's generation, request ids, and the record of every
// answer (metrics, the buffered access log). No Beast here: requests and responses are
// server/http.hpp values.
#include "server/console/console.hpp"
#include "server/shard.hpp"

#include <chrono>

namespace latchkey::server {

namespace {
std::string sanitize_method(std::string_view m) {
  static constexpr std::string_view known[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
  for (auto k : known)
    if (k == m) return std::string(k);
  return "other";
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Names of query parameters that would carry a credential. Credentials are accepted only in
// headers and bodies (ASVS V3.1.1, V8.3.1); such a request is refused outright.
bool query_carries_credential(std::string_view query) {
  static constexpr std::string_view names[] = {"token",         "access_token", "refresh_token", "session",
                                               "session_token", "id_token",     "code",          "code_verifier",
                                               "client_secret", "api_key",      "password"};
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    std::string_view name = pair.substr(0, pair.find('='));
    for (auto n : names)
      if (name == n) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}
}  // namespace

std::string Shard::request_id(std::string_view presented) {
  if (valid_request_id(presented)) return std::string(presented);
  return rid_prefix + std::to_string(++rid_counter);
}

// The route table's policy, applied here for every route: a route this listener does not
// serve does not exist on it; an admin route (and any path under an admin route's first
// segment, so probing reveals nothing) needs the admin key before anything else is said.
awaitable<HttpResponse> Shard::dispatch(HttpRequest& req, std::string& route_name, const std::string& rid,
                                        unsigned serves) {
  const Config& cfg = server.config;
  auto m = server.router.match(req.method, req.path, serves);
  const bool found = m.result == RouteMatch::outcome::found;
  bool needs_admin =
      found ? (m.route->access == Access::admin || m.route->access == Access::admin_read) : m.under_admin_prefix;
  // On the console's listener the admin API is called by its page, with the console session
  // (and, for a write, its CSRF token) instead of a key.
  const bool on_console = (serves & console_listener) != 0;
  const bool write = found && m.route->access != Access::admin_read;
  AdminGrant grant = AdminGrant::none;
  bool csrf_refused = false;
  if (needs_admin && on_console) {
    auto a = co_await console::authenticate(req, write, generation->services, *redis);
    grant = a.grant;
    csrf_refused = a.csrf_refused;
    if (a.unavailable) {
      route_name = "unavailable";
      co_return error_response(errc::unavailable, "", cfg.retry_after_seconds);
    }
  } else if (needs_admin) {
    grant = server.admin_keys.of_authorization(req.header("authorization"));
  }
  // A read-only key may call the routes that only read; on any other it is refused before
  // the handler runs, so nothing it sends can change state.
  const bool read_only_refused = grant == AdminGrant::read_only && write;
  if (needs_admin && (grant == AdminGrant::none || read_only_refused || csrf_refused)) {
    count(SecurityEvent::admin_auth_failure);
    const char* outcome = grant == AdminGrant::none ? "refused" : csrf_refused ? "csrf" : "read_only";
    events::Event e(events::Type::admin_auth_failure, {}, outcome);
    e.ip = req.remote;
    e.request_id = rid;
    e.with("route", found ? m.route->pattern : std::string("unmatched"));
    if (on_console) e.with("via", "console");
    events.emit(std::move(e));
    if (grant == AdminGrant::none) {
      route_name = "unauthorized";
      co_return error_response(errc::unauthorized,
                               on_console ? "no console session: log in" : "missing or wrong admin API key");
    }
    route_name = "forbidden";
    if (csrf_refused) co_return error_response(errc::forbidden, "missing or wrong X-CSRF-Token for this session");
    co_return error_response(errc::forbidden, "this admin API key is read-only");
  }
  if (query_carries_credential(req.query)) {
    route_name = "rejected";
    co_return error_response(errc::invalid_request,
                             "credentials are accepted only in headers or the body, never in the URL");
  }
  if (m.result == RouteMatch::outcome::not_found) {
    route_name = "unmatched";
    co_return error_response(errc::not_found, "no such route");
  }
  if (m.result == RouteMatch::outcome::method_not_allowed) {
    route_name = "method_not_allowed";
    auto r = error_response(errc::method_not_allowed, "method not allowed on this route");
    r.headers.emplace_back("Allow", m.allow);
    co_return r;
  }
  route_name = m.route->pattern;
  // Held until the handler is done: a reload in between does not pull the rings from under it.
  const std::shared_ptr<const Generation> gen = generation;
  RequestContext ctx{req,
                     std::move(m.params),
                     rid,
                     cfg,
                     gen->services,
                     *redis,
                     metrics,
                     server.all_metrics,
                     m.route->access,
                     &server.reload_hook,
                     events::Scope{&events, rid, req.remote, &logouts},
                     &gen->codec,
                     &server.admin_keys};
  std::string failure;
  try {
    co_return co_await m.route->handler(ctx);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  log::event(log::Level::error, "handler of " + route_name + " threw: " + failure + " (request " + rid + ")");
  co_return error_response(errc::internal, "internal error");
}

void Shard::record(const std::string& rid, std::string_view method, std::string_view route, unsigned status,
                   double seconds, std::size_t bytes_out, const std::string& remote) {
  std::string m = sanitize_method(method);
  metrics.observe_http(route, m, status, seconds);
  if (server.config.access_log) log_access(rid, m, route, status, seconds, bytes_out, remote);
}

void Shard::log_access(const std::string& rid, std::string_view method, std::string_view route, unsigned status,
                       double seconds, std::size_t bytes_out, const std::string& remote) {
  // Every value here is from a closed set or validated (request ids, route patterns, sanitized
  // methods, IP addresses), so no JSON escaping is needed. Never the path's values, the query
  // string, headers or bodies.
  std::string& b = access_buf;
  b += "{\"ts\":\"";
  clock.append(b);
  b += "\",\"type\":\"access\",\"request_id\":\"";
  b += rid;
  b += "\",\"method\":\"";
  b += method;
  b += "\",\"route\":\"";
  b += route;
  b += "\",\"status\":";
  b += std::to_string(status);
  b += ",\"duration_us\":";
  b += std::to_string(static_cast<std::int64_t>(seconds * 1e6));
  b += ",\"bytes_out\":";
  b += std::to_string(bytes_out);
  b += ",\"remote\":\"";
  b += remote;
  b += "\"}\n";
  log_line({});
}

void Shard::log_line(std::string_view line) {
  std::string& b = access_buf;
  b += line;
  if (b.size() >= 32 * 1024) {
    flush_access();
  } else if (!access_flush_armed) {
    access_flush_armed = true;
    if (!access_timer) access_timer.emplace(ioc);
    access_timer->expires_after(std::chrono::milliseconds(200));
    access_timer->async_wait([this](boost::system::error_code) {
      access_flush_armed = false;
      flush_access();
    });
  }
}

void Shard::flush_access() {
  if (access_buf.empty()) return;
  log::write_stdout(access_buf);
  access_buf.clear();
}

}  // namespace latchkey::server
