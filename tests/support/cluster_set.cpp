// ClusterSet: redis-server processes in cluster mode joined by redis-cli --cluster create.
#include "support/cluster_set.hpp"

#include "support/process.hpp"
#include "support/tls_certs.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace latchkey::test {
namespace {
using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  return out;
}
}  // namespace

ClusterSet::ClusterSet(ClusterSetOptions o) : o_(o) {
  const int total = o_.masters * (1 + o_.replicas_per_master);
  for (int i = 0; i < total; ++i) start_node();
  // With tls-cluster the nodes meet over TLS on their TLS ports, so redis-cli creates the
  // cluster through those.
  std::vector<std::string> args = cli_tls();
  args.insert(args.end(), {"--cluster", "create"});
  for (std::size_t i = 0; i < nodes.size(); ++i) args.push_back(address(i));
  args.insert(args.end(), {"--cluster-replicas", std::to_string(o_.replicas_per_master), "--cluster-yes"});
  auto created = cli(args, 60s);
  if (created.exit_code != 0) throw std::runtime_error("redis-cli --cluster create failed: " + created.out);
  if (!wait_settled(30s)) throw std::runtime_error("the cluster did not settle");
  // Replicas in sync, so a failover has someone to promote.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    int synced = 0;
    for (const auto& n : nodes) {
      std::string info = n->command({"INFO", "replication"});
      if (info.find("role:slave") != std::string::npos && info.find("master_link_status:up") != std::string::npos)
        ++synced;
    }
    if (synced == o_.masters * o_.replicas_per_master) break;
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the replicas did not sync");
    std::this_thread::sleep_for(50ms);
  }
}

ClusterSet::~ClusterSet() { nodes.clear(); }

void ClusterSet::start_node() {
  // The bus port is chosen, not left at port + 10000 (past 65535 for high ephemeral ports).
  std::vector<std::string> args{"--cluster-enabled",
                                "yes",
                                "--cluster-config-file",
                                "nodes.conf",
                                "--cluster-node-timeout",
                                "1500",
                                "--cluster-require-full-coverage",
                                "yes",
                                "--cluster-port",
                                std::to_string(free_port())};
  std::uint16_t tls_port = 0;
  if (o_.tls) {
    const auto& certs = TlsCerts::get();
    tls_port = free_port();
    args.insert(args.end(),
                {"--tls-port", std::to_string(tls_port), "--tls-cert-file", certs.pem("server"), "--tls-key-file",
                 certs.key("server"), "--tls-ca-cert-file", certs.pem("ca"), "--tls-auth-clients", "no",
                 "--tls-replication", "yes", "--tls-cluster", "yes",
                 // The bus checks the connecting node's certificate: a client one.
                 "--tls-client-cert-file", certs.pem("client"), "--tls-client-key-file", certs.key("client")});
  }
  tls_ports.push_back(tls_port);
  nodes.push_back(std::make_unique<RedisServer>(std::move(args)));
}

std::vector<std::string> ClusterSet::cli_tls() const {
  if (!o_.tls) return {};
  return {"--tls", "--cacert", TlsCerts::get().pem("ca")};
}

std::string ClusterSet::address(std::size_t i) const {
  return "127.0.0.1:" + std::to_string(o_.tls ? tls_ports[i] : nodes[i]->port());
}

std::uint16_t ClusterSet::add_master() {
  start_node();
  std::vector<std::string> args = cli_tls();
  args.insert(args.end(), {"--cluster", "add-node", address(nodes.size() - 1), address(0)});
  auto added = cli(args, 60s);
  if (added.exit_code != 0) throw std::runtime_error("redis-cli --cluster add-node failed: " + added.out);
  if (!wait_settled(30s)) throw std::runtime_error("the cluster did not settle after add-node");
  return nodes.back()->port();
}

ClusterSet::CliResult ClusterSet::remove_node(std::uint16_t port) {
  const std::size_t i = index_of(port);
  const std::string id = node_id(port);
  std::size_t other = i == 0 ? 1 : 0;
  std::vector<std::string> args = cli_tls();
  args.insert(args.end(), {"--cluster", "del-node", address(other), id});
  auto r = cli(args, 60s);
  if (r.exit_code == 0) nodes[i]->kill();  // decommissioned: del-node only resets it
  return r;
}

std::string ClusterSet::url() const {
  auto port = [&](std::size_t i) { return std::to_string(o_.tls ? tls_ports[i] : nodes[i]->port()); };
  return std::string(o_.tls ? "rediss" : "redis") + "+cluster://127.0.0.1:" + port(0) + ",127.0.0.1:" + port(1);
}

ClusterSet::CliResult ClusterSet::cli(const std::vector<std::string>& args, std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv{"/usr/bin/redis-cli"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p(argv, {});
  auto code = p.wait(timeout);
  if (!code) return {-1, "redis-cli did not finish: " + p.out() + p.err()};
  return {*code, p.out() + p.err()};
}

ClusterSet::CliResult ClusterSet::reshard(std::uint16_t from, std::uint16_t to, int slots) const {
  std::vector<std::string> args = cli_tls();
  args.insert(args.end(),
              {"--cluster", "reshard", address(index_of(from)), "--cluster-from", node_id(from), "--cluster-to",
               node_id(to), "--cluster-slots", std::to_string(slots), "--cluster-yes", "--cluster-pipeline", "10"});
  return cli(args, 300s);
}

int ClusterSet::slots_of(std::uint16_t port) const {
  auto o = owners();
  return static_cast<int>(std::count(o.begin(), o.end(), port));
}

std::size_t ClusterSet::index_of(std::uint16_t port) const {
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i]->port() == port || (tls_ports[i] != 0 && tls_ports[i] == port)) return i;
  throw std::runtime_error("no node on port " + std::to_string(port));
}

std::string ClusterSet::node_id(std::uint16_t port) const {
  return nodes[index_of(port)]->command({"CLUSTER", "MYID"});
}

RedisServer& ClusterSet::node(std::uint16_t port) { return *nodes[index_of(port)]; }

std::vector<std::uint16_t> ClusterSet::owners() const {
  std::vector<std::uint16_t> out(16384, 0);
  for (const auto& n : nodes) {
    if (!n->running()) continue;
    // CLUSTER NODES: "<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges...>"
    std::string text = n->command({"CLUSTER", "NODES"});
    if (text.starts_with("ERR:")) continue;
    for (const auto& line : lines_of(text)) {
      std::stringstream ls(line);
      std::vector<std::string> f;
      for (std::string w; ls >> w;) f.push_back(w);
      if (f.size() < 9 || f[2].find("master") == std::string::npos || f[2].find("fail") != std::string::npos) continue;
      auto addr = f[1].substr(0, f[1].find('@'));
      auto port = static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
      for (std::size_t i = 8; i < f.size(); ++i) {
        if (f[i].starts_with("[")) continue;  // a migration mark
        auto dash = f[i].find('-');
        int lo = std::stoi(f[i].substr(0, dash));
        int hi = dash == std::string::npos ? lo : std::stoi(f[i].substr(dash + 1));
        for (int slot = lo; slot <= hi; ++slot) out[static_cast<std::size_t>(slot)] = port;
      }
    }
    return out;
  }
  return out;
}

std::uint16_t ClusterSet::master_of(std::uint16_t slot) const { return owners()[slot]; }

void ClusterSet::begin_migration(std::uint16_t slot, std::uint16_t from, std::uint16_t to) const {
  const std::string s = std::to_string(slot);
  if (nodes[index_of(to)]->command({"CLUSTER", "SETSLOT", s, "IMPORTING", node_id(from)}) != "OK" ||
      nodes[index_of(from)]->command({"CLUSTER", "SETSLOT", s, "MIGRATING", node_id(to)}) != "OK")
    throw std::runtime_error("CLUSTER SETSLOT IMPORTING/MIGRATING refused");
}

void ClusterSet::migrate_keys(std::uint16_t from, std::uint16_t to, const std::vector<std::string>& keys) const {
  // With tls-cluster a node's MIGRATE connects over TLS: give it the target's TLS port.
  const std::uint16_t target = o_.tls ? tls_ports[index_of(to)] : to;
  std::vector<std::string> args{"MIGRATE", "127.0.0.1", std::to_string(target), "", "0", "5000", "KEYS"};
  args.insert(args.end(), keys.begin(), keys.end());
  auto r = nodes[index_of(from)]->command(args);
  if (r != "OK" && r != "NOKEY") throw std::runtime_error("MIGRATE: " + r);
}

void ClusterSet::finish_migration(std::uint16_t slot, std::uint16_t to) const {
  const std::string s = std::to_string(slot), id = node_id(to);
  for (const auto& n : nodes) {
    if (!n->running()) continue;
    if (n->command({"ROLE"}).starts_with("master")) (void)n->command({"CLUSTER", "SETSLOT", s, "NODE", id});
  }
}

bool ClusterSet::wait_settled(std::chrono::milliseconds max) const {
  auto deadline = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < deadline) {
    bool ok = true;
    std::string first_slots;
    for (const auto& n : nodes) {
      if (!n->running()) continue;
      std::string info = n->command({"CLUSTER", "INFO"});
      ok = ok && info.find("cluster_state:ok") != std::string::npos &&
           info.find("cluster_slots_assigned:16384") != std::string::npos;
      std::string slots = n->command({"CLUSTER", "SLOTS"});
      // Every node tells the same story (the order of ranges is the same for the same map).
      std::string masters_only;
      for (const auto& l : lines_of(slots)) masters_only += l + "|";
      if (first_slots.empty())
        first_slots = masters_only;
      else
        ok = ok && masters_only == first_slots;
    }
    if (ok) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace latchkey::test
