// Redis URLs (docs/redis.md, "Topologies"):
//   redis://[[user]:password@]host[:port][/db]            one node
//   rediss://...                                          the same over TLS
//   redis+sentinel://[[user]:password@]s1[:port],s2[:port]/<master-name>[/db]
//   rediss+sentinel://...                                 TLS to the data nodes (and the sentinels)
//   redis+cluster://[[user]:password@]seed1[:port],seed2[:port][/0]   Redis Cluster (db 0 only)
//   rediss+cluster://...                                  the same over TLS (every node)
// Percent-escapes in user and password are decoded. Query parameters are refused: none is
// defined, and a silently ignored one is worse than an error.
#pragma once

#include "latchkey/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::redis {

// How a TLS peer is checked: the chain and the endpoint's name (full), the chain only (ca),
// nothing (none: encryption without authentication, warned about at start).
enum class TlsVerify { full, ca, none };

struct TlsSettings {
  std::string ca_file;    // empty: the system's trust store
  std::string cert_file;  // client certificate (mutual TLS); with key_file
  std::string key_file;
  TlsVerify verify = TlsVerify::full;
  std::string server_name;  // empty: each endpoint's own host
  int min_version = 12;     // 12 = TLS 1.2, 13 = TLS 1.3
};

struct HostPort {
  std::string host;
  std::uint16_t port = 6379;
  std::string describe() const;  // host:port ([v6]:port)
  bool operator==(const HostPort&) const = default;
};

// One data node: where it is and how to log in.
struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string user;      // empty: legacy AUTH <password> (or no AUTH without a password)
  std::string password;  // empty: no AUTH
  int db = 0;
  bool tls = false;

  // host:port/db, never the credentials: safe to log.
  std::string describe() const;
};

// What redis_url names: one node, a master found through sentinels, or a cluster.
struct Target {
  // Standalone: the node. Sentinel and Cluster: the data nodes' credentials, db and TLS; host
  // and port are the master's once a sentinel named it (Sentinel), unused (Cluster).
  Endpoint node;
  std::vector<HostPort> sentinels;  // empty: standalone or cluster
  std::string master_name;
  std::vector<HostPort> seeds;  // Cluster: the nodes asked for the slot map; empty otherwise

  bool sentinel() const noexcept { return !sentinels.empty(); }
  bool cluster() const noexcept { return !seeds.empty(); }
  // Safe to log: "127.0.0.1:6379/0", "sentinel master 'mymaster' via h1:26379,h2:26379 /0"
  // or "cluster via h1:7000,h2:7001".
  std::string describe() const;
};

// Returns the target, or config_error with `error` describing what is wrong.
[[nodiscard]] result<Target> parse_target(std::string_view url, std::string* error = nullptr);
// One node only (redis:// or rediss://): a Sentinel or Cluster URL is refused.
[[nodiscard]] result<Endpoint> parse_url(std::string_view url, std::string* error = nullptr);

// The name a TLS peer's certificate must carry for `host` (server_name when set).
std::string tls_verify_name(const TlsSettings& tls, std::string_view host);

}  // namespace latchkey::redis
