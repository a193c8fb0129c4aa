// Redis Cluster beneath Connection: one link per master node (on this I/O thread), the slot
// map from CLUSTER SLOTS (at start, every cluster_refresh_interval, and soon after anything
// says it changed: MOVED, READONLY, a node's link lost, an unserved slot), each request sent
// to the master of its keys' slot. MOVED: patch the slot, follow. ASK: ASKING + the command
// at the target only. TRYAGAIN, CLUSTERDOWN, LOADING: wait and resend within
// cluster_retry_budget. A request without an answer (timeout, reset) is never resent. The
// decisions are the pure ones of cluster_map.hpp.
#pragma once

#include "latchkey/redis/connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace latchkey::redis {

class ClusterRouter {
 public:
  ClusterRouter(boost::asio::any_io_executor ex, ConnectionOptions opts);
  ~ClusterRouter();
  ClusterRouter(const ClusterRouter&) = delete;
  ClusterRouter& operator=(const ClusterRouter&) = delete;

  void start();
  void stop();
  [[nodiscard]] boost::asio::awaitable<result<Replies>> call(Request req, std::string_view op);
  bool reload_tls();
  // Ready: every slot has a master and every master's link is ready.
  [[nodiscard]] boost::asio::awaitable<result<void>> ready_or_failed();

  void log(log::Level level, std::string_view msg) const;
  const ConnectionOptions& options() const noexcept;
  ConnState state() const noexcept;
  std::string last_error() const;
  bool refused_eviction_policy() const noexcept;
  bool refused_credentials() const noexcept;
  bool refused_configuration() const noexcept;
  std::uint64_t connects() const noexcept;
  // "cluster: 3 masters (h1:7000, h2:7001, h3:7002)".
  std::string current_endpoint() const;
  // How many times a refresh found a slot served by another master than before.
  std::uint64_t master_changes() const noexcept;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace latchkey::redis
