// The HTTP server: N shards, each an I/O thread with its own io_context, its own listener
// on the shared port (SO_REUSEPORT: the kernel spreads connections), its own Redis
// connection and its own metrics. Nothing on the request path is shared between shards.
//
// Shutdown (request_stop, safe from any thread or a signal handler's thread): every shard
// stops accepting, closes idle keep-alive connections, lets in-flight requests finish (their
// responses carry `Connection: close`), then closes its Redis connection; after
// shutdown_grace anything left is cut. wait() returns when every shard has stopped.
#pragma once

#include "latchkey/config.hpp"
#include "latchkey/secrets.hpp"
#include "server/router.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace latchkey::server {

class Server {
 public:
  Server(Config config, Secrets secrets, Router router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listeners and starts the shard threads and Redis connections. Returns an error
  // message on failure (e.g. the port is taken).
  [[nodiscard]] std::optional<std::string> start();
  // The port of the listener serving `listener` (a Listener bit; the public one by default).
  std::uint16_t port(unsigned listener = public_listener) const noexcept;
  // "http://host:port (public+admin+metrics)", one entry per listener, comma-separated.
  std::string describe_listeners() const;
  void request_stop();
  void wait();
  // True when every shard's Redis connection is ready.
  bool redis_ready() const;
  // Re-reads both key rings (secrets_dir) and the TLS files (HTTPS listener, Redis client) and
  // puts them in force for requests that start afterwards; requests in flight finish with the
  // rings they started with, and open connections keep their certificates. All or nothing:
  // when anything fails to load or check, returns why (one line) and the old rings and
  // certificates stay in force. `summary` (optional) says what is now in force. Safe from any
  // thread once started (SIGHUP, POST /v1/server/reload).
  [[nodiscard]] std::optional<std::string> reload(std::string* summary = nullptr);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace latchkey::server
