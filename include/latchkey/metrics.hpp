// Prometheus metrics. Each I/O shard owns one Metrics object and is its only writer; the
// scrape merges all shards. A per-shard mutex makes the scrape safe and is uncontended on the
// request path (only the scrape ever takes another shard's lock).
#pragma once

#include <array>
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
                                                  0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
  std::array<std::uint64_t, kBounds.size() + 1> buckets{};
  double sum = 0;
  std::uint64_t count = 0;

  void observe(double seconds) noexcept;
  void merge(const LatencyHistogram& other) noexcept;
};

class Metrics {
 public:
  void observe_http(std::string_view route, std::string_view method, unsigned status, double seconds);
  void observe_redis(std::string_view op, bool error, double seconds);
  // A rate-limit decision of a named policy ("adhoc" for limits in the request): allowed,
  // denied, shadow_denied (a shadow policy would have denied) or fail_open.
  void observe_ratelimit(std::string_view policy, std::string_view decision);
  void merge_into(Metrics& total) const;

  // Prometheus text exposition (format 0.0.4) of the merged metrics of all shards.
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
  };
  mutable std::mutex mu_;
  // Transparent comparators: lookups by string_view allocate only for a new series.
  std::map<HttpKey, LatencyHistogram, HttpKeyLess> http_;
  std::map<std::string, RedisSeries, std::less<>> redis_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> ratelimit_;
};

}  // namespace latchkey
