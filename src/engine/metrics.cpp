// Metrics: histograms and the Prometheus text rendering.
#include "latchkey/metrics.hpp"
#include "latchkey/log.hpp"

#include <cstdio>

namespace latchkey {

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
  if (it == http_.end()) it = http_.emplace(HttpKey{std::string(route), std::string(method), status}, LatencyHistogram{}).first;
  it->second.observe(seconds);
}

void Metrics::observe_redis(std::string_view op, bool error, double seconds) {
  std::lock_guard lock(mu_);
  auto it = redis_.find(op);
  if (it == redis_.end()) it = redis_.emplace(std::string(op), RedisSeries{}).first;
  auto& s = it->second;
  ++s.calls;
  if (error) ++s.errors;
  s.latency.observe(seconds);
}

void Metrics::observe_ratelimit(std::string_view policy, std::string_view decision) {
  std::lock_guard lock(mu_);
  ++ratelimit_[{std::string(policy), std::string(decision)}];
}

void Metrics::merge_into(Metrics& total) const {
  std::scoped_lock lock(mu_, total.mu_);
  for (const auto& [k, n] : ratelimit_) total.ratelimit_[k] += n;
  for (const auto& [k, h] : http_) total.http_[k].merge(h);
  for (const auto& [k, s] : redis_) {
    auto& t = total.redis_[k];
    t.calls += s.calls;
    t.errors += s.errors;
    t.latency.merge(s.latency);
  }
}

namespace {

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
    if (c == '\n') { out += "\\n"; continue; }
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
    out += "latchkey_http_requests_total{route=\"" + esc(route) + "\",method=\"" + esc(method) +
           "\",status=\"" + std::to_string(status) + "\"} " + std::to_string(h.count) + "\n";
  }
  out += "# HELP latchkey_http_request_duration_seconds HTTP request latency by route, method and status.\n";
  out += "# TYPE latchkey_http_request_duration_seconds histogram\n";
  for (const auto& [k, h] : total.http_) {
    const auto& [route, method, status] = k;
    render_histogram(out, "latchkey_http_request_duration_seconds",
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
  out += "# HELP latchkey_ratelimit_decisions_total Rate-limit decisions by policy and decision.\n";
  out += "# TYPE latchkey_ratelimit_decisions_total counter\n";
  for (const auto& [k, n] : total.ratelimit_)
    out += "latchkey_ratelimit_decisions_total{policy=\"" + esc(k.first) + "\",decision=\"" + esc(k.second) + "\"} " +
           std::to_string(n) + "\n";
  out += "# HELP latchkey_log_events_total Events of a throttled kind (provoked by unauthenticated callers), logged or not.\n";
  out += "# TYPE latchkey_log_events_total counter\n";
  auto throttles = log::Throttle::all();
  for (const auto* t : throttles) out += "latchkey_log_events_total{event=\"" + esc(t->name()) + "\"} " + std::to_string(t->total()) + "\n";
  out += "# HELP latchkey_log_suppressed_total Lines of a throttled kind not written to the log (over its rate).\n";
  out += "# TYPE latchkey_log_suppressed_total counter\n";
  for (const auto* t : throttles)
    out += "latchkey_log_suppressed_total{event=\"" + esc(t->name()) + "\"} " + std::to_string(t->suppressed()) + "\n";
  return out;
}

}  // namespace latchkey
