// Where a link connects next: the topology beneath Connection.
//  - standalone: the URL's node, always.
//  - sentinel: asks the sentinels (SentinelResolver) before every connection attempt, so a
//    reconnect after a failover finds the new master; the node must then pass the ROLE check
//    of the handshake.
// (Cluster, issue 14, routes by slot over several links and will sit here too.)
#pragma once

#include "engine/redis/sentinel_resolver.hpp"
#include "engine/redis/transport.hpp"
#include "latchkey/redis/url.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace latchkey::redis {

struct SentinelAccess {
  std::string user, password;              // the sentinels' credentials (not the data nodes')
  std::shared_ptr<const TlsContext> tls;   // null: plaintext sentinels
  std::chrono::milliseconds timeout{500};  // per sentinel: connect, ask, answer
};

class Topology {
 public:
  Topology(Target target, SentinelAccess sentinel_access);

  bool sentinel() const noexcept { return target_.sentinel(); }
  // The data node to connect to now, or nullopt with `why` set (and failure() saying which).
  [[nodiscard]] boost::asio::awaitable<std::optional<Endpoint>> locate(boost::asio::any_io_executor ex,
                                                                       std::string& why);
  // Sentinel only: the last round's failure kind (none after a success).
  SentinelResolver::Failure failure() const noexcept { return failure_; }
  const Target& target() const noexcept { return target_; }
  // New TLS settings for the sentinels (a reload); null keeps them plaintext.
  void set_sentinel_tls(std::shared_ptr<const TlsContext> tls) { access_.tls = std::move(tls); }

 private:
  Target target_;
  SentinelAccess access_;
  std::optional<SentinelResolver> resolver_;
  SentinelResolver::Failure failure_ = SentinelResolver::Failure::none;
};

// One request on a fresh transport to `where`, bounded by `timeout` as a whole (connect, TLS,
// write, replies). The replies, or nullopt with `why` set.
[[nodiscard]] boost::asio::awaitable<std::optional<Replies>> request_once(boost::asio::any_io_executor ex,
                                                                          std::shared_ptr<const TlsContext> tls,
                                                                          HostPort where, Request req,
                                                                          std::chrono::milliseconds timeout,
                                                                          std::string& why);

}  // namespace latchkey::redis
