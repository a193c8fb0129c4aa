// Test harness: a real Redis Cluster on loopback (masters with a replica each by default),
// created with `redis-cli --cluster create`, cluster-node-timeout 1500 ms, torn down with the
// test; plus what the fault tests do to it (reshard, migrate one slot by hand, fail over).
#pragma once

#include "support/redis_server.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace latchkey::test {

struct ClusterSetOptions {
  int masters = 3;
  int replicas_per_master = 1;
  // Every node also on a TLS port (TlsCerts "server"), the cluster bus and replication over TLS
  // (tls-cluster yes): TLS clients are given the TLS ports in CLUSTER SLOTS and redirects.
  bool tls = false;
};

class ClusterSet {
 public:
  explicit ClusterSet(ClusterSetOptions o = {});
  ~ClusterSet();
  ClusterSet(const ClusterSet&) = delete;
  ClusterSet& operator=(const ClusterSet&) = delete;

  // redis+cluster://127.0.0.1:p1,127.0.0.1:p2 (two seeds: the first two nodes); with tls,
  // rediss+cluster:// and their TLS ports.
  std::string url() const;
  std::vector<std::unique_ptr<RedisServer>> nodes;
  std::vector<std::uint16_t> tls_ports;  // with tls: each node's TLS port

  // The port of the master serving `slot`, as the first answering node says (0: none).
  std::uint16_t master_of(std::uint16_t slot) const;
  // How many slots the master on `port` serves.
  int slots_of(std::uint16_t port) const;
  // A new empty master (redis-cli --cluster add-node); its port. It serves no slot until a
  // reshard gives it some.
  std::uint16_t add_master();
  RedisServer& node(std::uint16_t port);
  // The node id of the node on `port`.
  std::string node_id(std::uint16_t port) const;
  // redis-cli with these arguments; its exit code and output.
  struct CliResult {
    int exit_code;
    std::string out;
  };
  CliResult cli(const std::vector<std::string>& args, std::chrono::milliseconds timeout) const;
  // redis-cli --cluster del-node of a node that serves no slot; the node is then stopped, as
  // an operator decommissioning it would.
  CliResult remove_node(std::uint16_t port);
  // Moves `slots` slots from the master on `from` to the master on `to` (redis-cli --cluster
  // reshard, keys included), while whatever else runs.
  CliResult reshard(std::uint16_t from, std::uint16_t to, int slots) const;
  // Moves one slot by hand, in the steps a migration takes, so a test can stop in between:
  // mark it (IMPORTING on the target, MIGRATING on the source), then move the keys given
  // (MIGRATE), then give the slot to the target on every master.
  void begin_migration(std::uint16_t slot, std::uint16_t from, std::uint16_t to) const;
  void migrate_keys(std::uint16_t from, std::uint16_t to, const std::vector<std::string>& keys) const;
  void finish_migration(std::uint16_t slot, std::uint16_t to) const;
  // True once every live node says cluster_state:ok and agrees on who serves every slot.
  bool wait_settled(std::chrono::milliseconds max) const;

 private:
  std::size_t index_of(std::uint16_t port) const;  // plain or TLS port
  void start_node();
  std::vector<std::string> cli_tls() const;   // redis-cli's TLS flags, with tls
  std::string address(std::size_t i) const;   // 127.0.0.1:<port redis-cli should use>
  std::vector<std::uint16_t> owners() const;  // each slot's master (plain port; 0: none)
  ClusterSetOptions o_;
};

}  // namespace latchkey::test
