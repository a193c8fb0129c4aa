// The Beast side of the server: listeners, the per-connection coroutine (limits, deadlines,
// keep-alive), dispatch through the router with API-key authentication, access log and
// metrics, and graceful shutdown. The only translation unit that includes Beast.
#include "server/server.hpp"

#include "server/listen_guard.hpp"

#include "server/services.hpp"

#include "latchkey/client_address.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/identity.hpp"
#include "latchkey/log.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/redis/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/json.hpp>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <list>
#include <mutex>
#include <unordered_map>
#include <thread>

namespace latchkey::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::ip::tcp;

namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

struct ConnEntry {
  tcp::socket* socket;    // the lowest layer of its stream (TCP or TLS)
  bool busy;              // a request is being read, handled or answered
  std::string client;     // canonical client address (canonical_address)
  bool released = false;  // its slot was given back (evicted, or closed)
};

// latchkey_http_requests_in_flight: one request from its first byte to its last.
struct InFlight {
  explicit InFlight(Metrics& m) : metrics(m) { metrics.add_in_flight(1); }
  ~InFlight() { metrics.add_in_flight(-1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  Metrics& metrics;
};

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

// The status line and headers of a response, written directly: the hot path needs none of a
// general serializer's generality. Header values come from our own code (cookies, numbers,
// fixed strings); any value with a CR or LF is dropped rather than risk header injection.
std::string response_head(const HttpResponse& resp, const std::string& rid, bool keep_alive, bool http10) {
  std::string h;
  h.reserve(192);
  h += "HTTP/1.1 ";
  h += std::to_string(resp.status);
  h.push_back(' ');
  h += http::obsolete_reason(static_cast<http::status>(resp.status));
  h += "\r\n";
  if (!resp.content_type.empty()) {
    h += "Content-Type: ";
    h += resp.content_type;
    h += "\r\n";
  }
  h += "X-Request-Id: ";
  h += rid;
  h += "\r\n";
  bool has_cache_control = false;
  for (const auto& [k, v] : resp.headers) {
    if (k.find_first_of("\r\n:") != std::string::npos || v.find_first_of("\r\n") != std::string::npos) continue;
    if (beast::iequals(k, "cache-control")) has_cache_control = true;
    h += k;
    h += ": ";
    h += v;
    h += "\r\n";
  }
  if (!has_cache_control) h += "Cache-Control: no-store\r\n";
  if (resp.status != 204 && resp.status != 304 && resp.status >= 200) {
    h += "Content-Length: ";
    h += std::to_string(resp.body.size());
    h += "\r\n";
  }
  if (!keep_alive)
    h += "Connection: close\r\n";
  else if (http10)
    h += "Connection: keep-alive\r\n";
  h += "\r\n";
  return h;
}

// ALPN (RFC 7301): http/1.1 when the client offers it; without a match the handshake goes on
// without ALPN (the client then decides), never another protocol.
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                  void*) {
  static const unsigned char ours[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, ours, sizeof ours, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// The HTTPS context of tls_cert_file / tls_key_file (and tls_client_ca_file): TLS 1.2 and 1.3,
// forward-secret AEAD suites only for 1.2 (1.3's are all AEAD), no compression or
// renegotiation, ALPN http/1.1. Null and `why` set when a file cannot be used.
std::unique_ptr<asio::ssl::context> make_https_context(const Config& c, std::string& why) {
  namespace ssl = asio::ssl;
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                       ssl::context::single_dh_use,
                   ec);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20");
  ctx->use_certificate_chain_file(c.tls_cert_file, ec);
  if (ec) {
    why = "tls_cert_file '" + c.tls_cert_file + "' is not a PEM certificate chain (" + ec.message() + ")";
    return nullptr;
  }
  ctx->use_private_key_file(c.tls_key_file, ssl::context::pem, ec);
  if (ec || SSL_CTX_check_private_key(native) != 1) {
    why = "tls_key_file '" + c.tls_key_file + "' is not the PEM private key of tls_cert_file" +
          (ec ? " (" + ec.message() + ")" : std::string());
    ERR_clear_error();
    return nullptr;
  }
  if (!c.tls_client_ca_file.empty()) {
    ctx->load_verify_file(c.tls_client_ca_file, ec);
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(c.tls_client_ca_file.c_str());
    if (ec || !names) {
      why = "tls_client_ca_file '" + c.tls_client_ca_file + "' holds no usable CA certificate";
      ERR_clear_error();
      return nullptr;
    }
    SSL_CTX_set_client_CA_list(native, names);
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  }
  SSL_CTX_set_alpn_select_cb(native, select_http11, nullptr);
  return ctx;
}

}  // namespace

// What a reload replaces as one: the key rings and the services built on them. Requests hold
// the generation they started with until they finish.
struct Generation {
  Generation(const Config& c, Secrets s) : secrets(std::move(s)), services(c, secrets) {}
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;
  Secrets secrets;
  Services services;  // refers to `secrets`
};

struct Shard {
  Shard(Server::Impl& s, unsigned i) : server(s), index(i) {}
  Server::Impl& server;
  unsigned index;
  asio::io_context ioc{1};
  // One acceptor per listener (public, and admin / metrics when they have addresses of their
  // own), each with the set of Listener bits whose routes it serves.
  struct Acceptor {
    tcp::acceptor socket;
    unsigned serves;
  };
  std::list<Acceptor> acceptors;
  Metrics metrics{index};
  std::unique_ptr<redis::Connection> redis;
  // This shard's view of what a reload swaps; replaced on the shard's own thread (posted).
  std::shared_ptr<const Generation> generation;
  std::shared_ptr<asio::ssl::context> tls;  // HTTPS; null: plain HTTP
  std::list<ConnEntry> conns;
  bool stopping = false;
  std::optional<asio::steady_timer> grace;
  std::thread thread;
  std::string rid_prefix;
  std::uint64_t rid_counter = 0;
  // Access log: buffered per shard and written with one write(2) at 32 KiB, every 200 ms,
  // and at shutdown, so logging costs no system call per request.
  std::string access_buf;
  std::optional<asio::steady_timer> access_timer;
  bool access_flush_armed = false;
  log::TimestampCache clock;

  void log_access(const std::string& rid, std::string_view method, std::string_view route, unsigned status,
                  double seconds, std::size_t bytes_out, const std::string& remote);
  void flush_access();
  void begin_shutdown();
  void maybe_finish();
  awaitable<void> accept_loop(Acceptor& acceptor);
  awaitable<void> serve_connection(tcp::socket socket, std::string client, unsigned serves);
  // The HTTP/1.1 loop of one connection, over plain TCP or TLS.
  template <class Stream>
  awaitable<void> serve_http(Stream& stream, ConnEntry& entry, const std::string& remote, unsigned serves);
  // Takes a connection slot for `client` (global and per-client caps), closing the oldest idle
  // connection of this shard (of this client, for its cap) when at a limit; false to refuse.
  bool admit(const std::string& client);
  void release(ConnEntry& e);
  bool evict_idle(const std::string* client);
  awaitable<HttpResponse> dispatch(HttpRequest& req, std::string& route_name, const std::string& rid, unsigned serves);
};

// A listener as bound: its address, its port (the one picked when 0 was asked for) and the
// Listener bits it serves.
struct BoundListener {
  std::string host;
  asio::ip::address address;
  std::uint16_t port;
  unsigned serves;
};

struct Server::Impl {
  Impl(Config c, Secrets sec, Router r) : config(std::move(c)), initial(std::move(sec)), router(std::move(r)) {}
  Config config;
  Secrets initial;  // until start() builds the first generation from it
  Router router;
  std::shared_ptr<const Generation> generation;  // the newest; each shard holds its own copy
  std::shared_ptr<const redis::ScriptSet> scripts;
  std::shared_ptr<asio::ssl::context> tls;  // HTTPS (tls_cert_file); null: plain HTTP
  std::mutex reload_mu;
  std::function<std::optional<std::string>(std::string*)> reload_hook;  // Server::reload, for handlers
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<const Metrics*> all_metrics;
  std::vector<crypto::Sha256Digest> admin_key_hashes;
  std::vector<BoundListener> listeners;
  std::atomic<bool> stop_requested{false};
  bool started = false;
  // Connection caps: max_connections (lowered to what the descriptor limit allows beside a
  // reserve for Redis and the listeners) and max_connections_per_client.
  std::vector<net::Cidr> trusted_proxies;
  std::size_t max_connections = 0;
  std::atomic<std::size_t> open_connections{0};
  std::mutex clients_mu;
  std::unordered_map<std::string, std::size_t> per_client;

  bool authorized(std::string_view authorization) const {
    // "Bearer <key>", scheme case-insensitive (RFC 6750 section 2.1).
    if (authorization.size() < 7) return false;
    std::string scheme(authorization.substr(0, 7));
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != "bearer ") return false;
    std::string_view key = authorization.substr(7);
    while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
    if (key.empty()) return false;
    // Compare digests, so the comparison time depends on neither the key's length nor its
    // contents; every configured key is compared (no early exit).
    auto presented = crypto::sha256(key);
    bool ok = false;
    for (const auto& h : admin_key_hashes) ok = crypto::constant_time_equal(presented, h) || ok;
    return ok;
  }
};

// The route table's policy, applied here for every route: a route this listener does not
// serve does not exist on it; an admin route (and any path under an admin route's first
// segment, so probing reveals nothing) needs the admin key before anything else is said.
awaitable<HttpResponse> Shard::dispatch(HttpRequest& req, std::string& route_name, const std::string& rid,
                                        unsigned serves) {
  const Config& cfg = server.config;
  auto m = server.router.match(req.method, req.path, serves);
  bool needs_admin = m.result == RouteMatch::outcome::found
                         ? (m.route->access == Access::admin || m.route->access == Access::admin_read)
                         : m.under_admin_prefix;
  if (needs_admin && !server.authorized(req.header("authorization"))) {
    count(SecurityEvent::admin_auth_failure);
    route_name = "unauthorized";
    co_return error_response(errc::unauthorized, "missing or wrong admin API key");
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
  RequestContext ctx{
      req, std::move(m.params), rid, cfg, gen->services, *redis, metrics, server.all_metrics, m.route->access};
  ctx.reload = &server.reload_hook;
  std::string failure;
  try {
    co_return co_await m.route->handler(ctx);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  log::event(log::Level::error, "handler of " + route_name + " threw: " + failure + " (request " + rid + ")");
  co_return error_response(errc::internal, "internal error");
}

namespace {
// Connections refused or closed at a cap: counted in /metrics, logged at most once a second.
log::Throttle& connection_limit_log() {
  static log::Throttle t("connection_limit", 1);
  return t;
}
}  // namespace

void Shard::release(ConnEntry& e) {
  if (e.released) return;
  e.released = true;
  server.open_connections.fetch_sub(1);
  if (server.config.max_connections_per_client == 0) return;
  std::lock_guard lock(server.clients_mu);
  auto it = server.per_client.find(e.client);
  if (it != server.per_client.end() && --it->second == 0) server.per_client.erase(it);
}

bool Shard::evict_idle(const std::string* client) {
  for (auto& c : conns) {
    if (c.busy || c.released || (client && c.client != *client)) continue;
    release(c);
    boost::system::error_code ignored;
    c.socket->close(ignored);  // its coroutine ends on the aborted read
    connection_limit_log().event(log::Level::warn, "connection limit: closed the oldest idle connection");
    return true;
  }
  return false;
}

bool Shard::admit(const std::string& client) {
  const std::size_t per_client_cap = server.config.max_connections_per_client;
  if (per_client_cap > 0) {
    bool full = false;
    {
      std::lock_guard lock(server.clients_mu);
      auto it = server.per_client.find(client);
      full = it != server.per_client.end() && it->second >= per_client_cap;
    }
    if (full && !evict_idle(&client)) {
      connection_limit_log().event(log::Level::warn,
                                   "connection limit: refused a connection (max_connections_per_client)");
      return false;
    }
  }
  if (server.open_connections.load() >= server.max_connections && !evict_idle(nullptr)) {
    connection_limit_log().event(log::Level::warn, "connection limit: refused a connection (max_connections)");
    return false;
  }
  server.open_connections.fetch_add(1);
  if (per_client_cap > 0) {
    std::lock_guard lock(server.clients_mu);
    ++server.per_client[client];
  }
  return true;
}

awaitable<void> Shard::serve_connection(tcp::socket socket, std::string client, unsigned serves) {
  boost::system::error_code ignored;
  std::string remote = socket.remote_endpoint(ignored).address().to_string();
  metrics.add_open_connections(1);
  const std::shared_ptr<asio::ssl::context> https = tls;  // the certificate at accept time
  if (!https) {
    beast::tcp_stream stream(std::move(socket));
    auto entry = conns.insert(conns.end(), ConnEntry{&stream.socket(), false, std::move(client)});
    co_await serve_http(stream, *entry, remote, serves);
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
    release(*entry);
    conns.erase(entry);
  } else {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *https);
    auto entry =
        conns.insert(conns.end(), ConnEntry{&beast::get_lowest_layer(stream).socket(), true, std::move(client)});
    // The TLS handshake within the first-byte deadline: a client that does not speak TLS (or
    // is silent) is dropped as soon as its bytes are not a ClientHello, or at the deadline.
    beast::get_lowest_layer(stream).expires_after(server.config.first_byte_timeout);
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, tuple_awaitable);
    if (!hec) co_await serve_http(stream, *entry, remote, serves);
    auto& lowest = beast::get_lowest_layer(stream);
    lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest.close();
    release(*entry);
    conns.erase(entry);
  }
  metrics.add_open_connections(-1);
  maybe_finish();
}

template <class Stream>
awaitable<void> Shard::serve_http(Stream& stream, ConnEntry& entry_ref, const std::string& remote, unsigned serves) {
  const Config& cfg = server.config;
  ConnEntry* entry = &entry_ref;
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  bool first = std::is_same_v<Stream, beast::tcp_stream>;  // TLS: the handshake had the first-byte deadline

  for (;;) {
    if (stopping || entry->released) break;
    if (buffer.size() == 0) {
      // Idle: wait for the first byte of the next request; a new connection gets a short
      // deadline for its first byte (a silent socket holds a slot only that long).
      entry->busy = false;
      lowest.expires_after(first ? cfg.first_byte_timeout : cfg.idle_timeout);
      first = false;
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), tuple_awaitable);
      if (ec) break;
      buffer.commit(n);
    }
    entry->busy = true;
    InFlight in_flight(metrics);  // counted until this iteration ends, however it ends
    auto started = std::chrono::steady_clock::now();
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
    parser.body_limit(cfg.max_body_bytes);
    // One deadline for the whole request once its first byte is here: slow clients are cut.
    lowest.expires_after(cfg.read_timeout);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, tuple_awaitable);
    boost::system::error_code ec = hec;
    if (!ec && !parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        auto [wec, wn] = co_await http::async_write(stream, cont, tuple_awaitable);
        ec = wec;
      }
      if (!ec) {
        auto [bec, bn] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
        ec = bec;
      }
    }

    std::string rid;
    if (!ec && valid_request_id(parser.get()["x-request-id"]))
      rid = std::string(parser.get()["x-request-id"]);
    else
      rid = rid_prefix + std::to_string(++rid_counter);

    HttpResponse resp;
    std::string route_name;
    HttpRequest req;
    bool keep_alive = false;
    bool http10 = false;
    if (ec) {
      if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
          ec == http::error::partial_message)
        break;
      route_name = "malformed";
      req.method = "other";
      if (ec == http::error::header_limit)
        resp = error_response(errc::header_too_large, "request headers too large");
      else if (ec == http::error::body_limit)
        resp = error_response(errc::payload_too_large,
                              "request body too large (limit " + std::to_string(cfg.max_body_bytes) + " bytes)");
      else
        resp = error_response(errc::invalid_request, "malformed HTTP request");
    } else {
      auto& breq = parser.get();
      req.method = std::string(breq.method_string());
      std::string_view target = breq.target();
      auto q = target.find('?');
      req.path = std::string(target.substr(0, q));
      if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
      req.headers.reserve(16);
      for (const auto& f : breq) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers.emplace_back(std::move(name), std::string(f.value()));
      }
      req.body = std::move(breq.body());
      req.remote =
          server.trusted_proxies.empty() ? remote : net::client_address(remote, req.headers, server.trusted_proxies);
      keep_alive = breq.keep_alive();
      http10 = breq.version() == 10;
      resp = co_await dispatch(req, route_name, rid, serves);
    }
    keep_alive = keep_alive && !stopping;

    // Recorded before the response is written, so a scrape made after a client has its answer
    // always counts it; the duration is the time to a ready response.
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::string method = sanitize_method(req.method);
    metrics.observe_http(route_name, method, resp.status, seconds);
    if (cfg.access_log)
      log_access(rid, method, route_name, resp.status, seconds, resp.body.size(),
                 req.remote.empty() ? remote : req.remote);

    std::string head = response_head(resp, rid, keep_alive, http10);
    std::array<asio::const_buffer, 2> wire{asio::buffer(head), asio::buffer(resp.body)};
    lowest.expires_after(cfg.read_timeout);
    auto [wec, wn] = co_await asio::async_write(stream, wire, tuple_awaitable);
    if (wec || !keep_alive || ec) break;
  }
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

awaitable<void> Shard::accept_loop(Acceptor& acceptor) {
  for (;;) {
    auto [ec, sock] = co_await acceptor.socket.async_accept(tuple_awaitable);
    if (stopping) co_return;
    if (ec) {
      // Out of descriptors or similar: back off briefly instead of spinning.
      asio::steady_timer t(ioc, std::chrono::milliseconds(20));
      co_await t.async_wait(tuple_awaitable);
      continue;
    }
    boost::system::error_code ignored;
    auto peer = sock.remote_endpoint(ignored).address().to_string();
    std::string client = canonical_address(peer, static_cast<int>(server.config.login_ipv6_prefix)).value_or(peer);
    if (!admit(client)) {
      sock.close(ignored);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(
        ioc,
        [this, s = std::move(sock), c = std::move(client), serves = acceptor.serves]() mutable {
          return serve_connection(std::move(s), std::move(c), serves);
        },
        log::LogFailure{"connection of shard " + std::to_string(index)});
  }
}

void Shard::begin_shutdown() {
  if (stopping) return;
  stopping = true;
  boost::system::error_code ignored;
  for (auto& a : acceptors) a.socket.close(ignored);
  for (auto& c : conns)
    if (!c.busy) c.socket->cancel(ignored);
  grace.emplace(ioc, server.config.shutdown_grace);
  grace->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    boost::system::error_code ignored2;
    for (auto& c : conns) c.socket->close(ignored2);
    if (redis) redis->stop();
  });
  maybe_finish();
}

void Shard::maybe_finish() {
  if (!stopping || !conns.empty()) return;
  flush_access();
  if (access_timer) access_timer->cancel();
  if (redis) redis->stop();
  if (grace) grace->cancel();
}

Server::Server(Config config, Secrets secrets, Router router)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(secrets), std::move(router))) {}

Server::~Server() {
  request_stop();
  wait();
}

std::optional<std::string> Server::start() {
  Impl& s = *impl_;
  s.scripts = std::make_shared<const redis::ScriptSet>(redis::ScriptSet::embedded());
  s.generation = std::make_shared<const Generation>(s.config, std::move(s.initial));
  s.reload_hook = [this](std::string* summary) { return reload(summary); };
  if (!s.config.tls_cert_file.empty()) {
    std::string tls_why;
    s.tls = make_https_context(s.config, tls_why);
    if (!s.tls) return "HTTPS: " + tls_why;
  }
  for (const auto& k : s.config.admin_api_keys) s.admin_key_hashes.push_back(crypto::sha256(k));

  // Descriptors: each shard's Redis connection (and its reconnect), the listeners, logs and a
  // margin stay reserved; client connections get the rest, at most max_connections.
  std::string why;
  s.trusted_proxies = net::parse_cidrs(s.config.trusted_proxies, why).value_or(std::vector<net::Cidr>{});
  s.max_connections = s.config.max_connections;
  if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    std::size_t reserve = 32 + 4 * static_cast<std::size_t>(s.config.effective_threads());
    std::size_t room = rl.rlim_cur > reserve ? static_cast<std::size_t>(rl.rlim_cur) - reserve : 1;
    if (room < s.max_connections) {
      log::event(log::Level::warn, "max_connections lowered to " + std::to_string(room) + " (descriptor limit " +
                                       std::to_string(rl.rlim_cur) + ", " + std::to_string(reserve) + " reserved)");
      s.max_connections = room;
    }
  }

  // The listeners: `listen`, and `admin_listen` / `metrics_listen` when they name another
  // address (the same host:port as one already planned is that listener).
  auto plan = [&s](const ListenAddress& a, unsigned bit) -> std::optional<std::string> {
    if (a.port != 0)
      for (auto& l : s.listeners)
        if (l.host == a.host && l.port == a.port) {
          l.serves |= bit;
          return std::nullopt;
        }
    boost::system::error_code ec;
    asio::ip::address address = asio::ip::make_address(a.host, ec);
    if (ec) {
      asio::io_context tmp;
      tcp::resolver resolver(tmp);
      auto results = resolver.resolve(a.host, "", ec);
      if (ec || results.empty()) return "listen: cannot resolve host '" + a.host + "'";
      address = results.begin()->endpoint().address();
    }
    s.listeners.push_back({a.host, address, a.port, bit});
    return std::nullopt;
  };
  if (auto err = plan({s.config.listen_host, s.config.listen_port}, public_listener)) return err;
  for (auto [option, bit] :
       {std::pair{&s.config.admin_listen, admin_listener}, {&s.config.metrics_listen, metrics_listener}}) {
    if (!*option)
      s.listeners.front().serves |= bit;
    else if (auto err = plan(**option, bit))
      return err;
  }

  unsigned n = s.config.effective_threads();
  for (unsigned i = 0; i < n; ++i) {
    auto shard = std::make_unique<Shard>(s, i);
    shard->generation = s.generation;
    shard->tls = s.tls;
    std::array<std::uint8_t, 4> rnd{};
    crypto::random_bytes(rnd);
    shard->rid_prefix = crypto::hex_encode(rnd) + "-";
    for (auto& l : s.listeners) {
      boost::system::error_code ec;
      tcp::acceptor acc(shard->ioc);
      tcp::endpoint ep(l.address, l.port);
      acc.open(ep.protocol(), ec);
      if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) acc.set_option(reuse_port(true), ec);
      if (!ec) acc.bind(ep, ec);
      if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return "listen: cannot listen on " + l.host + ":" + std::to_string(l.port) + ": " + ec.message();
      if (l.port == 0) l.port = acc.local_endpoint().port();  // the other shards join the same port
      shard->acceptors.push_back({std::move(acc), l.serves});
    }

    auto ro = redis::ConnectionOptions::from(s.config);
    ro.scripts = s.scripts;
    ro.metrics = &shard->metrics;
    ro.log = [i](log::Level level, std::string_view msg) {
      log::event(level, "shard " + std::to_string(i) + ": " + std::string(msg));
    };
    shard->redis = std::make_unique<redis::Connection>(shard->ioc.get_executor(), std::move(ro));
    s.all_metrics.push_back(&shard->metrics);
    s.shards.push_back(std::move(shard));
  }
  {
    std::vector<unsigned long> own;
    for (auto& shard : s.shards)
      for (auto& a : shard->acceptors) {
        struct stat st {};
        if (::fstat(a.socket.native_handle(), &st) == 0) own.push_back(static_cast<unsigned long>(st.st_ino));
      }
    for (const auto& l : s.listeners)
      if (auto other = foreign_listener(l.address, l.port, own))
        return "listen: " + l.host + ":" + std::to_string(l.port) + " is already served by another process (" +
               other->address.to_string() + ":" + std::to_string(other->port) +
               ", another latchkey?); refusing to share the port with it";
  }
  for (auto& shard : s.shards) {
    Shard* sh = shard.get();
    sh->redis->start();
    for (auto& a : sh->acceptors)
      asio::co_spawn(
          sh->ioc, [sh, &a]() { return sh->accept_loop(a); },
          log::LogFailure{"accept loop of shard " + std::to_string(sh->index)});
    sh->thread = std::thread([sh] { sh->ioc.run(); });
  }
  s.started = true;
  return std::nullopt;
}

std::optional<std::string> Server::reload(std::string* summary) {
  Impl& s = *impl_;
  std::lock_guard lock(s.reload_mu);
  const Config& c = s.config;
  // Everything is loaded and checked first; nothing changes unless all of it is usable.
  std::string warnings;
  auto loaded = load_secrets(c.secrets_dir, c.secrets_allow_insecure_mode, &warnings);
  if (auto* err = std::get_if<std::string>(&loaded)) return "key rings: " + *err;
  if (auto bad = check_signing_algorithms(std::get<Secrets>(loaded), c.token_algorithms)) return "key rings: " + *bad;
  std::shared_ptr<asio::ssl::context> https = s.tls;
  if (s.tls) {
    std::string why;
    https = make_https_context(c, why);
    if (!https) return "HTTPS: " + why;
  }
  if (c.redis.node.tls)
    if (std::string why = redis::check_tls_settings(c.redis_tls); !why.empty()) return "Redis TLS: " + why;

  auto next = std::make_shared<const Generation>(c, std::get<Secrets>(std::move(loaded)));
  if (summary) {
    std::string kids;
    for (const auto& k : next->secrets.signing.keys()) kids += (kids.empty() ? "" : ",") + k.key.kid();
    *summary = "signing keys [" + kids + "], " + std::to_string(next->secrets.encryption.keys().size()) +
               " encryption keys" + (s.tls ? ", HTTPS certificate" : "") +
               (c.redis.node.tls ? ", Redis TLS files (used from the next connection)" : "");
  }
  s.generation = next;
  s.tls = https;
  for (auto& shard : s.shards) {
    Shard* sh = shard.get();
    asio::post(sh->ioc, [sh, next, https] {
      sh->generation = next;
      sh->tls = https;
      sh->redis->reload_tls();
    });
  }
  return std::nullopt;
}

std::uint16_t Server::port(unsigned listener) const noexcept {
  for (const auto& l : impl_->listeners)
    if (l.serves & listener) return l.port;
  return 0;
}

std::string Server::describe_listeners() const {
  std::string out;
  for (const auto& l : impl_->listeners) {
    if (!out.empty()) out += ", ";
    bool v6 = l.address.is_v6();
    out += std::string(impl_->tls ? "https://" : "http://") + std::string(v6 ? "[" : "") + l.host + (v6 ? "]" : "") +
           ":" + std::to_string(l.port) + " (" + listeners_name(l.serves) + ")";
  }
  return out;
}

void Server::request_stop() {
  if (!impl_ || impl_->stop_requested.exchange(true)) return;
  for (auto& shard : impl_->shards) {
    Shard* sh = shard.get();
    asio::post(sh->ioc, [sh] { sh->begin_shutdown(); });
  }
}

void Server::wait() {
  for (auto& shard : impl_->shards)
    if (shard->thread.joinable()) shard->thread.join();
}

bool Server::redis_ready() const {
  for (const auto& shard : impl_->shards)
    if (!shard->redis->ready()) return false;
  return !impl_->shards.empty();
}

}  // namespace latchkey::server
