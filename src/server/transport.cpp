// The transport side of the server: accepting on each listener, the connection caps, TLS
// (the HTTPS context and handshake), and the HTTP/1.1 loop of one connection as one template
// over the stream (TCP or TLS): limits, deadlines, keep-alive, the response writer. The only
// translation unit that includes Beast.
#include "server/console/console.hpp"
#include "server/shard.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <chrono>

namespace latchkey::server {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// latchkey_http_requests_in_flight: one request from its first byte to its last.
struct InFlight {
  explicit InFlight(Metrics& m) : metrics(m) { metrics.add_in_flight(1); }
  ~InFlight() { metrics.add_in_flight(-1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  Metrics& metrics;
};

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

// Connections refused or closed at a cap: counted in /metrics, logged at most once a second.
log::Throttle& connection_limit_log() {
  static log::Throttle t("connection_limit", 1);
  return t;
}

}  // namespace

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

    std::string rid = request_id(ec ? std::string_view{} : std::string_view(parser.get()["x-request-id"]));

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
    // Every answer of the console's listener, malformed requests' included, carries its headers.
    if (serves & console_listener) console::secure(resp);

    // Recorded before the response is written, so a scrape made after a client has its answer
    // always counts it; the duration is the time to a ready response.
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    record(rid, req.method, route_name, resp.status, seconds, resp.body.size(),
           req.remote.empty() ? remote : req.remote);

    std::string head = response_head(resp, rid, keep_alive, http10);
    std::array<asio::const_buffer, 2> wire{asio::buffer(head), asio::buffer(resp.body)};
    lowest.expires_after(cfg.read_timeout);
    auto [wec, wn] = co_await asio::async_write(stream, wire, tuple_awaitable);
    if (wec || !keep_alive || ec) break;
  }
}

}  // namespace latchkey::server
