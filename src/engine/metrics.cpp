// Metrics: histograms and the Prometheus text rendering.
#include "latchkey/metrics.hpp"
#include "latchkey/log.hpp"
#include "latchkey/version.hpp"

#include <boost/version.hpp>
#include <openssl/opensslv.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace latchkey {

namespace {
std::array<std::atomic<std::uint64_t>, kSecurityEventCount> g_security{};

// The wall clock when the process loaded this library (boot time + the process's start in
// /proc/self/stat drifts from the wall clock on hosts whose clock was stepped).
const double g_start_time = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

constexpr std::string_view kVerifyReasons[] = {"too_large",
                                               "malformed",
                                               "bad_header",
                                               "forbidden_header",
                                               "alg_not_allowed",
                                               "unknown_kid",
                                               "alg_key_mismatch",
                                               "bad_signature",
                                               "bad_payload",
                                               "key_expired",
                                               "wrong_typ",
                                               "wrong_iss",
                                               "missing_claim",
                                               "expired",
                                               "not_yet_valid",
                                               "issued_in_future",
                                               "wrong_aud",
                                               "oauth_not_accepted",
                                               "client_deleted",
                                               "revoked",
                                               "bad_cnf",
                                               "dpop_proof_required",
                                               "other"};
constexpr std::size_t kVerifyReasonCount = std::size(kVerifyReasons);
std::array<std::atomic<std::uint64_t>, kVerifyReasonCount> g_verify{};

std::size_t verify_index(std::string_view reason) noexcept {
  for (std::size_t i = 0; i + 1 < kVerifyReasonCount; ++i)
    if (kVerifyReasons[i] == reason) return i;
  return kVerifyReasonCount - 1;  // "other"
}
}  // namespace

const char* security_event_name(SecurityEvent e) noexcept {
  switch (e) {
    case SecurityEvent::refresh_reuse_detected: return "refresh_reuse_detected";
    case SecurityEvent::code_replayed: return "code_replayed";
    case SecurityEvent::login_failure: return "login_failure";
    case SecurityEvent::lockout: return "lockout";
    case SecurityEvent::session_evicted: return "session_evicted";
    case SecurityEvent::admin_auth_failure: return "admin_auth_failure";
    case SecurityEvent::oauth_client_auth_failure: return "oauth_client_auth_failure";
    case SecurityEvent::dpop_proof_replayed: return "dpop_proof_replayed";
  }
  return "other";
}

void count(SecurityEvent e, std::uint64_t n) noexcept {
  g_security[static_cast<std::size_t>(e)].fetch_add(n, std::memory_order_relaxed);
}
std::uint64_t security_events(SecurityEvent e) noexcept {
  return g_security[static_cast<std::size_t>(e)].load(std::memory_order_relaxed);
}
namespace {
std::atomic<std::uint64_t> g_events_written{0}, g_events_lost{0};
}
void count_events_written(std::uint64_t n) noexcept { g_events_written.fetch_add(n, std::memory_order_relaxed); }
void count_events_lost(std::uint64_t n) noexcept { g_events_lost.fetch_add(n, std::memory_order_relaxed); }
std::uint64_t events_written() noexcept { return g_events_written.load(std::memory_order_relaxed); }
std::uint64_t events_lost() noexcept { return g_events_lost.load(std::memory_order_relaxed); }
void count_verify_failure(std::string_view reason) noexcept {
  g_verify[verify_index(reason)].fetch_add(1, std::memory_order_relaxed);
}
std::uint64_t verify_failures(std::string_view reason) noexcept {
  return g_verify[verify_index(reason)].load(std::memory_order_relaxed);
}

void LatencyHistogram::observe(double seconds) noexcept {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  ++buckets[i];
  sum += seconds;
  ++count;
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
  sum += other.sum;
  count += other.count;
}

void Metrics::observe_http(std::string_view route, std::string_view method, unsigned status, double seconds) {
  std::lock_guard lock(mu_);
  auto it = http_.find(HttpKeyView{route, method, status});
  if (it == http_.end())
    it = http_.emplace(HttpKey{std::string(route), std::string(method), status}, LatencyHistogram{}).first;
  it->second.observe(seconds);
}

void Metrics::RedisSeries::observe(bool error, double seconds) noexcept {
  ++calls;
  if (error) ++errors;
  latency.observe(seconds);
}

void Metrics::observe_redis(std::string_view op, bool error, double seconds, std::string_view node) {
  std::lock_guard lock(mu_);
  auto it = redis_.find(op);
  if (it == redis_.end()) it = redis_.emplace(std::string(op), RedisSeries{}).first;
  it->second.observe(error, seconds);
  if (!node.empty()) node_series(node).calls.observe(error, seconds);
}

void Metrics::RedisSeries::add(const RedisSeries& other) noexcept {
  calls += other.calls;
  errors += other.errors;
  latency.merge(other.latency);
}

Metrics::NodeSeries& Metrics::node_series(std::string_view node) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) it = nodes_.emplace(std::string(node), NodeSeries{}).first;
  return it->second;
}

void Metrics::count_node(ClusterEvent e, std::string_view node) {
  std::lock_guard lock(mu_);
  ++node_series(node).events[static_cast<std::size_t>(e)];
}

void Metrics::observe_ratelimit(std::string_view policy, std::string_view decision) {
  std::lock_guard lock(mu_);
  ++ratelimit_[{std::string(policy), std::string(decision)}];
}

void Metrics::merge_into(Metrics& total) const {
  std::scoped_lock lock(mu_, total.mu_);
  for (const auto& [k, n] : ratelimit_) total.ratelimit_[k] += n;
  for (const auto& [k, h] : http_) total.http_[k].merge(h);
  for (const auto& [k, s] : redis_) total.redis_[k].add(s);
  for (const auto& [k, s] : nodes_) {
    auto& t = total.nodes_[k];
    t.calls.add(s.calls);
    for (std::size_t i = 0; i < s.events.size(); ++i) t.events[i] += s.events[i];
  }
}

namespace {

constexpr std::pair<Metrics::ClusterEvent, const char*> kClusterEventNames[] = {
    {Metrics::ClusterEvent::moved, "moved"},
    {Metrics::ClusterEvent::ask, "ask"},
    {Metrics::ClusterEvent::retry, "retry"},
    {Metrics::ClusterEvent::refresh, "refresh"},
    {Metrics::ClusterEvent::refresh_failure, "refresh_failure"}};

std::string fmt_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Label values come from the routing table and fixed operation names, never from requests,
// but are escaped anyway.
std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

void render_histogram(std::string& out, const std::string& name, const std::string& labels, const LatencyHistogram& h) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
    cumulative += h.buckets[i];
    out += name + "_bucket{" + labels + ",le=\"" + fmt_double(LatencyHistogram::kBounds[i]) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  cumulative += h.buckets.back();
  out += name + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += name + "_sum{" + labels + "} " + fmt_double(h.sum) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(h.count) + "\n";
}

}  // namespace

std::string Metrics::render(const std::vector<const Metrics*>& shards) {
  Metrics total;
  for (const auto* s : shards) s->merge_into(total);
  std::lock_guard lock(total.mu_);
  std::string out;
  out += "# HELP latchkey_http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE latchkey_http_requests_total counter\n";
  for (const auto& [k, h] : total.http_) {
    const auto& [route, method, status] = k;
    out += "latchkey_http_requests_total{route=\"" + esc(route) + "\",method=\"" + esc(method) + "\",status=\"" +
           std::to_string(status) + "\"} " + std::to_string(h.count) + "\n";
  }
  out += "# HELP latchkey_http_request_duration_seconds HTTP request latency by route, method and status.\n";
  out += "# TYPE latchkey_http_request_duration_seconds histogram\n";
  for (const auto& [k, h] : total.http_) {
    const auto& [route, method, status] = k;
    render_histogram(
        out, "latchkey_http_request_duration_seconds",
        "route=\"" + esc(route) + "\",method=\"" + esc(method) + "\",status=\"" + std::to_string(status) + "\"", h);
  }
  out += "# HELP latchkey_redis_calls_total Redis calls by operation.\n";
  out += "# TYPE latchkey_redis_calls_total counter\n";
  for (const auto& [op, s] : total.redis_)
    out += "latchkey_redis_calls_total{op=\"" + esc(op) + "\"} " + std::to_string(s.calls) + "\n";
  out += "# HELP latchkey_redis_errors_total Redis calls that failed (connection, timeout or error reply).\n";
  out += "# TYPE latchkey_redis_errors_total counter\n";
  for (const auto& [op, s] : total.redis_)
    out += "latchkey_redis_errors_total{op=\"" + esc(op) + "\"} " + std::to_string(s.errors) + "\n";
  out += "# HELP latchkey_redis_call_duration_seconds Redis call latency by operation.\n";
  out += "# TYPE latchkey_redis_call_duration_seconds histogram\n";
  for (const auto& [op, s] : total.redis_)
    render_histogram(out, "latchkey_redis_call_duration_seconds", "op=\"" + esc(op) + "\"", s.latency);
  if (!total.nodes_.empty()) {
    out += "# HELP latchkey_redis_node_calls_total Redis Cluster: calls by node.\n";
    out += "# TYPE latchkey_redis_node_calls_total counter\n";
    for (const auto& [node, s] : total.nodes_)
      out += "latchkey_redis_node_calls_total{node=\"" + esc(node) + "\"} " + std::to_string(s.calls.calls) + "\n";
    out += "# HELP latchkey_redis_node_errors_total Redis Cluster: calls that failed, by node.\n";
    out += "# TYPE latchkey_redis_node_errors_total counter\n";
    for (const auto& [node, s] : total.nodes_)
      out += "latchkey_redis_node_errors_total{node=\"" + esc(node) + "\"} " + std::to_string(s.calls.errors) + "\n";
    out += "# HELP latchkey_redis_node_call_duration_seconds Redis Cluster: call latency by node.\n";
    out += "# TYPE latchkey_redis_node_call_duration_seconds histogram\n";
    for (const auto& [node, s] : total.nodes_)
      render_histogram(out, "latchkey_redis_node_call_duration_seconds", "node=\"" + esc(node) + "\"", s.calls.latency);
    out +=
        "# HELP latchkey_redis_node_events_total Redis Cluster: redirects a node answered (moved, ask), resends it "
        "asked for (retry), slot-map fetches asked of it (refresh, refresh_failure).\n";
    out += "# TYPE latchkey_redis_node_events_total counter\n";
    for (const auto& [node, s] : total.nodes_)
      for (auto [e, name] : kClusterEventNames)
        out += "latchkey_redis_node_events_total{node=\"" + esc(node) + "\",event=\"" + name + "\"} " +
               std::to_string(s.events[static_cast<std::size_t>(e)]) + "\n";
  }
  out += "# HELP latchkey_ratelimit_decisions_total Rate-limit decisions by policy and decision.\n";
  out += "# TYPE latchkey_ratelimit_decisions_total counter\n";
  for (const auto& [k, n] : total.ratelimit_)
    out += "latchkey_ratelimit_decisions_total{policy=\"" + esc(k.first) + "\",decision=\"" + esc(k.second) + "\"} " +
           std::to_string(n) + "\n";
  out +=
      "# HELP latchkey_log_events_total Events of a throttled kind (provoked by unauthenticated callers), logged or "
      "not.\n";
  out += "# TYPE latchkey_log_events_total counter\n";
  auto throttles = log::Throttle::all();
  for (const auto* t : throttles)
    out += "latchkey_log_events_total{event=\"" + esc(t->name()) + "\"} " + std::to_string(t->total()) + "\n";
  out += "# HELP latchkey_log_suppressed_total Lines of a throttled kind not written to the log (over its rate).\n";
  out += "# TYPE latchkey_log_suppressed_total counter\n";
  for (const auto* t : throttles)
    out += "latchkey_log_suppressed_total{event=\"" + esc(t->name()) + "\"} " + std::to_string(t->suppressed()) + "\n";

  out +=
      "# HELP latchkey_security_events_total Security outcomes: refresh reuse, code replay, login failures and "
      "lockouts, session evictions, failed admin and OAuth client authentication.\n";
  out += "# TYPE latchkey_security_events_total counter\n";
  for (std::size_t i = 0; i < kSecurityEventCount; ++i) {
    auto e = static_cast<SecurityEvent>(i);
    out += std::string("latchkey_security_events_total{event=\"") + security_event_name(e) + "\"} " +
           std::to_string(security_events(e)) + "\n";
  }
  out += "# HELP latchkey_events_total Security events written to the Redis streams, and lost (not written).\n";
  out += "# TYPE latchkey_events_total counter\n";
  out += "latchkey_events_total{result=\"written\"} " + std::to_string(events_written()) + "\n";
  out += "latchkey_events_total{result=\"lost\"} " + std::to_string(events_lost()) + "\n";
  out += "# HELP latchkey_token_verify_failures_total Access tokens refused at /v1/tokens/verify, by reason.\n";
  out += "# TYPE latchkey_token_verify_failures_total counter\n";
  for (std::size_t i = 0; i < kVerifyReasonCount; ++i)
    out += "latchkey_token_verify_failures_total{reason=\"" + std::string(kVerifyReasons[i]) + "\"} " +
           std::to_string(g_verify[i].load(std::memory_order_relaxed)) + "\n";

  std::int64_t in_flight = 0, open = 0;
  for (const auto* sh : shards) {
    in_flight += sh->in_flight_.load(std::memory_order_relaxed);
    open += sh->open_connections_.load(std::memory_order_relaxed);
  }
  out += "# HELP latchkey_http_requests_in_flight Requests being read, handled or answered.\n";
  out += "# TYPE latchkey_http_requests_in_flight gauge\n";
  out += "latchkey_http_requests_in_flight " + std::to_string(in_flight) + "\n";
  out += "# HELP latchkey_http_connections_open Client connections open.\n";
  out += "# TYPE latchkey_http_connections_open gauge\n";
  out += "latchkey_http_connections_open " + std::to_string(open) + "\n";
  out += "# HELP latchkey_redis_up Whether each shard's Redis connection is ready (handshake done, scripts loaded).\n";
  out += "# TYPE latchkey_redis_up gauge\n";
  for (const auto* sh : shards)
    out += "latchkey_redis_up{shard=\"" + std::to_string(sh->shard()) + "\"} " + (sh->redis_up() ? "1" : "0") + "\n";
  out +=
      "# HELP latchkey_redis_master_changes_total Times each shard's Redis link was given a new master by the "
      "sentinels (failovers seen).\n";
  out += "# TYPE latchkey_redis_master_changes_total counter\n";
  for (const auto* sh : shards)
    out += "latchkey_redis_master_changes_total{shard=\"" + std::to_string(sh->shard()) + "\"} " +
           std::to_string(sh->master_changes()) + "\n";
  out +=
      "# HELP latchkey_redis_cluster_events_total Redis Cluster: redirects followed (moved, ask), resends within "
      "the retry budget (retry), slot-map fetches (refresh, refresh_failure).\n";
  out += "# TYPE latchkey_redis_cluster_events_total counter\n";
  for (const auto* sh : shards)
    for (auto [e, name] : kClusterEventNames)
      out += "latchkey_redis_cluster_events_total{shard=\"" + std::to_string(sh->shard()) + "\",event=\"" + name +
             "\"} " + std::to_string(sh->cluster_events(e)) + "\n";
  out += "# HELP latchkey_redis_endpoint_info The Redis node each shard's link uses (always 1).\n";
  out += "# TYPE latchkey_redis_endpoint_info gauge\n";
  for (const auto* sh : shards)
    if (auto e = sh->redis_endpoint(); !e.empty())
      out +=
          "latchkey_redis_endpoint_info{shard=\"" + std::to_string(sh->shard()) + "\",endpoint=\"" + esc(e) + "\"} 1\n";
  out += "# HELP latchkey_build_info The running build (always 1).\n";
  out += "# TYPE latchkey_build_info gauge\n";
  out += "latchkey_build_info{version=\"" LATCHKEY_VERSION "\",boost=\"" BOOST_LIB_VERSION "\",openssl=\"" +
         esc(OPENSSL_VERSION_STR) + "\"} 1\n";
  out += render_process_metrics();
  return out;
}

std::string render_process_metrics() {
  // The Prometheus client libraries' process collector names, from /proc/self.
  std::string out;
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (close != std::string::npos) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string x; fields >> x;) f.push_back(x);
    // f[0] is field 3 (state): utime 14, stime 15, vsize 23, rss 24.
    if (f.size() > 21) {
      const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
      const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
      double cpu = (std::stod(f[11]) + std::stod(f[12])) / tick;
      out += "# HELP process_cpu_seconds_total User and system CPU time spent, in seconds.\n";
      out += "# TYPE process_cpu_seconds_total counter\n";
      char cpu_text[32];
      std::snprintf(cpu_text, sizeof cpu_text, "%.2f", cpu);
      out += "process_cpu_seconds_total " + std::string(cpu_text) + "\n";
      out += "# HELP process_start_time_seconds Start time of the process since the Unix epoch, in seconds.\n";
      out += "# TYPE process_start_time_seconds gauge\n";
      char start[32];
      std::snprintf(start, sizeof start, "%.3f", g_start_time);  // %g would round to 10 s
      out += "process_start_time_seconds " + std::string(start) + "\n";
      out += "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n";
      out += "# TYPE process_virtual_memory_bytes gauge\n";
      out += "process_virtual_memory_bytes " + f[20] + "\n";
      out += "# HELP process_resident_memory_bytes Resident memory size in bytes.\n";
      out += "# TYPE process_resident_memory_bytes gauge\n";
      out += "process_resident_memory_bytes " + std::to_string(std::stoull(f[21]) * static_cast<std::uint64_t>(page)) +
             "\n";
    }
  }
  std::size_t fds = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++fds;
    ::closedir(d);
    if (fds > 0) --fds;  // the directory being read
  }
  out += "# HELP process_open_fds Number of open file descriptors.\n";
  out += "# TYPE process_open_fds gauge\n";
  out += "process_open_fds " + std::to_string(fds) + "\n";
  if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    out += "# HELP process_max_fds Maximum number of open file descriptors.\n";
    out += "# TYPE process_max_fds gauge\n";
    out += "process_max_fds " + std::to_string(rl.rlim_cur) + "\n";
  }
  return out;
}

}  // namespace latchkey
