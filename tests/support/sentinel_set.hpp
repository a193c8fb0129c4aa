// Test harness: a Sentinel deployment on loopback, all real processes on free ports: one
// master and `replicas` replicas (redis-server --replicaof), and three sentinels
// (redis-server --sentinel with a config file each, down-after-milliseconds 1000), started
// and owned by the test. The Redis manual's topology, shrunk onto one machine.
#pragma once

#include "support/redis_server.hpp"
#include "support/tls_certs.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace latchkey::test {

struct SentinelSetOptions {
  int replicas = 2;
  std::string data_password;      // requirepass/masterauth on the data nodes (empty: none)
  std::string sentinel_password;  // requirepass on the sentinels (empty: none)
  bool tls = false;               // data nodes and sentinels on TLS ports only (TlsCerts "server")
  std::string master_name = "mymaster";
};

class SentinelProcess {
 public:
  // conf_text: the sentinel lines; port, dir and logfile are added.
  SentinelProcess(std::string conf_text, const SentinelSetOptions& o, std::uint16_t tls_port = 0);
  ~SentinelProcess();
  std::uint16_t port() const { return port_; }
  void kill() { child_.kill(); }
  void pause() { child_.pause(); }
  void resume() { child_.resume(); }
  bool running() const { return child_.running(); }
  // One command (AUTH first when the sentinels have a password); "ERR:connect" when down.
  std::string command(const std::vector<std::string>& args) const;

 private:
  std::uint16_t port_;
  ChildPid child_;
  std::string dir_;
  std::string password_;
};

class SentinelSet {
 public:
  explicit SentinelSet(SentinelSetOptions o = {});
  ~SentinelSet();

  // redis+sentinel://[:data_password@]127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3/<name> (rediss+ with tls).
  std::string url(const std::string& master_name = "") const;
  // The data node on `port` (the initial master is nodes[0]).
  RedisServer& node(std::uint16_t port);
  std::vector<std::unique_ptr<RedisServer>> nodes;
  std::vector<std::uint16_t> tls_ports;  // with tls: each node's TLS port (what the sentinels name)
  std::vector<std::unique_ptr<SentinelProcess>> sentinels;
  std::vector<std::uint16_t> sentinel_tls_ports;

  // The master's port as the first answering sentinel reports it (0 when none answers).
  std::uint16_t master_port() const;
  // Waits until the sentinels report a master other than `old` and it says ROLE master.
  bool wait_for_new_master(std::uint16_t old, std::chrono::milliseconds max) const;
  // One command on a data node, with its password.
  std::string data_command(std::uint16_t port, const std::vector<std::string>& args) const;
  const SentinelSetOptions& options() const { return o_; }

 private:
  SentinelSetOptions o_;
};

}  // namespace latchkey::test
