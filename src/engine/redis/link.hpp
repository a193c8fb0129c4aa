// One link: one socket to one Redis node, pipelined (Multiplexer), with its handshake,
// watchdog and reconnect loop (see connection.hpp for the lifecycle). Standalone and Sentinel
// connections are one link; a cluster router owns one link per master node. All calls on the
// link's thread.
#pragma once

#include "latchkey/redis/connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace latchkey::redis {

class TlsContext;

// A fresh TLS context from the options' files, for a reload; null when they cannot be used
// (then the options' log is told why, and the caller keeps the context it has).
std::shared_ptr<const TlsContext> reloaded_tls(const ConnectionOptions& o);

class Link {
 public:
  Link(boost::asio::any_io_executor ex, ConnectionOptions opts);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  void start();
  void stop();
  // Sends `req`, yields its replies. Not ready: unavailable at once. Unless `raw`, replies
  // saying the command did not run here (errors.hpp) become unavailable, and a demoted master
  // (READONLY) is left; `raw` gives them to the caller as they are (the cluster router
  // reads MOVED, ASK and TRYAGAIN itself).
  [[nodiscard]] boost::asio::awaitable<result<Replies>> call(Request req, std::string_view op, bool raw = false);
  bool reload_tls();
  [[nodiscard]] boost::asio::awaitable<result<void>> ready_or_failed();

  void log(log::Level level, std::string_view msg) const;
  const ConnectionOptions& options() const noexcept;
  ConnState state() const noexcept;
  bool ready() const noexcept { return state() == ConnState::ready; }
  std::string last_error() const;
  bool refused_eviction_policy() const noexcept;
  bool refused_credentials() const noexcept;
  bool refused_configuration() const noexcept;
  std::string current_endpoint() const;
  std::uint64_t master_changes() const noexcept;
  std::uint64_t connects() const noexcept;
  std::uint64_t failed_attempts() const noexcept;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace latchkey::redis
