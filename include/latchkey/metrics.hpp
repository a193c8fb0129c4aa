// Prometheus metrics. Each I/O shard owns one Metrics object and is its only writer; the
// scrape merges all shards. A per-shard mutex makes the scrape safe and is uncontended on the
// request path (only the scrape ever takes another shard's lock).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace latchkey {

struct LatencyHistogram {
  // Upper bounds in seconds; the last bucket (+Inf) is implicit.
  static constexpr std::array<double, 14> kBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                  0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};
  std::array<std::uint64_t, kBounds.size() + 1> buckets{};
  double sum = 0;
  std::uint64_t count = 0;

  void observe(double seconds) noexcept;
  void merge(const LatencyHistogram& other) noexcept;
};

// Security outcomes, counted process-wide (they are decided inside the engine, which has no
// shard of its own): latchkey_security_events_total{event}. Rare, so one relaxed atomic each.
enum class SecurityEvent : std::uint8_t {
  refresh_reuse_detected,     // a retired refresh token came back: its family was revoked
  code_replayed,              // an authorization code was redeemed twice: what it issued was revoked
  login_failure,              // POST /v1/logins/failure recorded
  lockout,                    // a failure locked an account, device or IP
  session_evicted,            // a new session pushed out the user's oldest (session_limit)
  admin_auth_failure,         // a request to an admin route without a valid admin key
  oauth_client_auth_failure,  // an OAuth client failed to authenticate
  dpop_proof_replayed,        // a DPoP proof came back (same key and jti): refused
};
inline constexpr std::size_t kSecurityEventCount = 8;
void count(SecurityEvent e, std::uint64_t n = 1) noexcept;
std::uint64_t security_events(SecurityEvent e) noexcept;
const char* security_event_name(SecurityEvent e) noexcept;

// The security event stream (src/server/events.cpp): events written to Redis, and events lost
// (Redis unreachable or refused the write, or the writer's queue full): latchkey_events_total
// {result="written"|"lost"}.
void count_events_written(std::uint64_t n) noexcept;
void count_events_lost(std::uint64_t n) noexcept;
std::uint64_t events_written() noexcept;
std::uint64_t events_lost() noexcept;

// Why an access token was refused at /v1/tokens/verify: latchkey_token_verify_failures_total
// {reason}. `reason` is one of a closed set (the JWS rejections, the claim checks, "revoked",
// "client_deleted", "oauth_not_accepted"); anything else counts as "other".
void count_verify_failure(std::string_view reason) noexcept;
std::uint64_t verify_failures(std::string_view reason) noexcept;

class Metrics {
 public:
  // This shard's index (the shard label of per-shard gauges).
  explicit Metrics(unsigned shard = 0) : shard_(shard) {}
  unsigned shard() const noexcept { return shard_; }
  // Gauges of this shard, written by its thread, read by any scrape.
  void set_redis_up(bool up) noexcept { redis_up_.store(up, std::memory_order_relaxed); }
  bool redis_up() const noexcept { return redis_up_.load(std::memory_order_relaxed); }
  // The node this shard's link uses (host:port/db, no credentials), and how often the
  // sentinels named a new master to it.
  void set_redis_endpoint(std::string endpoint) {
    std::lock_guard lock(endpoint_mu_);
    redis_endpoint_ = std::move(endpoint);
  }
  std::string redis_endpoint() const {
    std::lock_guard lock(endpoint_mu_);
    return redis_endpoint_;
  }
  void count_master_change() noexcept { master_changes_.fetch_add(1, std::memory_order_relaxed); }
  // Redis Cluster: redirects followed, resends after TRYAGAIN / CLUSTERDOWN / LOADING / a link
  // down, and slot-map fetches (failed ones too).
  enum class ClusterEvent : std::uint8_t { moved, ask, retry, refresh, refresh_failure, count_ };
  void count_cluster(ClusterEvent e) noexcept {
    cluster_[static_cast<std::size_t>(e)].fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t cluster_events(ClusterEvent e) const noexcept {
    return cluster_[static_cast<std::size_t>(e)].load(std::memory_order_relaxed);
  }
  // Redis Cluster, per node ("host:port"): the calls its links carried (errors, latency) and
  // the events it was part of (the redirects it answered, the resends it asked for, the map
  // fetches asked of it). Per shard, count_cluster above.
  void count_node(ClusterEvent e, std::string_view node);
  std::uint64_t master_changes() const noexcept { return master_changes_.load(std::memory_order_relaxed); }
  void add_in_flight(int delta) noexcept { in_flight_.fetch_add(delta, std::memory_order_relaxed); }
  void add_open_connections(int delta) noexcept { open_connections_.fetch_add(delta, std::memory_order_relaxed); }

  void observe_http(std::string_view route, std::string_view method, unsigned status, double seconds);
  // A Redis call by operation; with `node` (a cluster node link) also in that node's series,
  // under the same lock.
  void observe_redis(std::string_view op, bool error, double seconds, std::string_view node = {});
  // A rate-limit decision of a named policy ("adhoc" for limits in the request): allowed,
  // denied, shadow_denied (a shadow policy would have denied) or fail_open.
  void observe_ratelimit(std::string_view policy, std::string_view decision);
  void merge_into(Metrics& total) const;

  // Prometheus text exposition (format 0.0.4) of the merged metrics of all shards, their
  // gauges, the process-wide security counters, the process (CPU, memory, descriptors,
  // start time) and the build.
  static std::string render(const std::vector<const Metrics*>& shards);

 private:
  using HttpKey = std::tuple<std::string, std::string, unsigned>;
  using HttpKeyView = std::tuple<std::string_view, std::string_view, unsigned>;
  // Orders owned keys and views alike, so a lookup by view allocates nothing.
  struct HttpKeyLess {
    using is_transparent = void;
    static HttpKeyView view(const HttpKey& k) { return {std::get<0>(k), std::get<1>(k), std::get<2>(k)}; }
    static HttpKeyView view(const HttpKeyView& k) { return k; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return view(a) < view(b);
    }
  };
  struct RedisSeries {
    std::uint64_t calls = 0;
    std::uint64_t errors = 0;
    LatencyHistogram latency;
    void add(const RedisSeries& other) noexcept;
    void observe(bool error, double seconds) noexcept;
  };
  struct NodeSeries {
    RedisSeries calls;
    std::array<std::uint64_t, static_cast<std::size_t>(ClusterEvent::count_)> events{};
  };
  NodeSeries& node_series(std::string_view node);  // with mu_ held
  unsigned shard_ = 0;
  std::atomic<bool> redis_up_{false};
  mutable std::mutex endpoint_mu_;
  std::string redis_endpoint_;
  std::atomic<std::uint64_t> master_changes_{0};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(ClusterEvent::count_)> cluster_{};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> open_connections_{0};
  mutable std::mutex mu_;
  // Transparent comparators: lookups by string_view allocate only for a new series.
  std::map<HttpKey, LatencyHistogram, HttpKeyLess> http_;
  std::map<std::string, RedisSeries, std::less<>> redis_;
  std::map<std::string, NodeSeries, std::less<>> nodes_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> ratelimit_;
};

// The process metrics alone (process_cpu_seconds_total, process_resident_memory_bytes, ...).
std::string render_process_metrics();

}  // namespace latchkey
