// The server's private shape, shared by its three files: server.cpp (start, reload, shutdown),
// transport.cpp (listeners, connection caps, TLS, the HTTP/1.1 loop over TCP or TLS; the only
// translation unit that includes Beast) and dispatch.cpp (routing policy, admin key, request
// ids, metrics and the access log). A shard is one I/O thread and everything it owns.
#pragma once

#include "server/admin_keys.hpp"
#include "server/backchannel_logout.hpp"
#include "server/events.hpp"
#include "server/server.hpp"
#include "server/services.hpp"

#include "latchkey/client_address.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/log.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/redis/connection.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace latchkey::server {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

// One client connection as its shard tracks it (for caps, eviction and shutdown).
struct ConnEntry {
  tcp::socket* socket;    // the lowest layer of its stream (TCP or TLS)
  bool busy;              // a request is being read, handled or answered
  std::string client;     // canonical client address (canonical_address)
  bool released = false;  // its slot was given back (evicted, or closed)
};

// What a reload replaces as one: the key rings and the services built on them. Requests hold
// the generation they started with until they finish.
struct Generation {
  Generation(const Config& c, Secrets s)
      : secrets(std::move(s)),
        services(c, secrets),
        event_ids(secrets.identifier_key),
        codec(secrets.encryption, event_ids) {}
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;
  Secrets secrets;
  Services services;  // refers to `secrets`
  Identifiers event_ids;
  events::Codec codec;  // how security events are sealed and read back
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
  // Security events: queued on this thread, written to Redis without anyone waiting.
  EventRecorder events{*this};
  // OpenID Connect Back-Channel Logout: logout tokens POSTed to clients, nobody waiting.
  BackchannelLogout logouts{*this};

  // transport.cpp: accepting, connection caps, the HTTP/1.1 loop of one connection.
  awaitable<void> accept_loop(Acceptor& acceptor);
  awaitable<void> serve_connection(tcp::socket socket, std::string client, unsigned serves);
  // The HTTP/1.1 loop of one connection, over plain TCP or TLS (defined in transport.cpp).
  template <class Stream>
  awaitable<void> serve_http(Stream& stream, ConnEntry& entry, const std::string& remote, unsigned serves);
  // Takes a connection slot for `client` (global and per-client caps), closing the oldest idle
  // connection of this shard (of this client, for its cap) when at a limit; false to refuse.
  bool admit(const std::string& client);
  void release(ConnEntry& e);
  bool evict_idle(const std::string* client);

  // dispatch.cpp: what happens to a parsed request, and its record.
  // The request's id: the client's X-Request-Id when it is a plain token, else a new one.
  std::string request_id(std::string_view presented);
  awaitable<HttpResponse> dispatch(HttpRequest& req, std::string& route_name, const std::string& rid, unsigned serves);
  // Metrics and the access log of one answered request (`seconds` to a ready response).
  void record(const std::string& rid, std::string_view method, std::string_view route, unsigned status, double seconds,
              std::size_t bytes_out, const std::string& remote);
  void log_access(const std::string& rid, std::string_view method, std::string_view route, unsigned status,
                  double seconds, std::size_t bytes_out, const std::string& remote);
  void flush_access();
  // One line (with its newline) into the buffered stdout the access log uses.
  void log_line(std::string_view line);

  // server.cpp: shutdown.
  void begin_shutdown();
  void maybe_finish();
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
  AdminKeys admin_keys;  // admin_api_keys: full and read-only (`read:<key>`)
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
};

// The HTTPS context of tls_cert_file / tls_key_file (and tls_client_ca_file); null and `why`
// set when a file cannot be used (transport.cpp).
std::unique_ptr<asio::ssl::context> make_https_context(const Config& c, std::string& why);

}  // namespace latchkey::server
