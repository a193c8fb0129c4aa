// Rate limits (the "ratelimit" capability): the engine API behind /v1/ratelimit/check and the
// OAuth endpoints' throttle. Each algorithm is one Lua script (lua/ratelimit_*.lua) that
// decides and sets the key's expiry atomically, on Redis's clock.
//
// Keys: <prefix>rl:<f|s|g>:<digest of scope and key> (the caller's key is digested: it may
// hold an IP or an account name). Key schema: docs/redis.md.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/identity.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey {
struct Config;
namespace redis {
class Connection;
}
}  // namespace latchkey

namespace latchkey::ratelimit {

enum class Algorithm : std::uint8_t { fixed_window, sliding_window, gcra };
const char* algorithm_name(Algorithm a) noexcept;
std::optional<Algorithm> algorithm_from_name(std::string_view s) noexcept;

// A limit: `limit` units per `window_ms`; for GCRA up to `burst` units at once (0: = limit).
struct Limit {
  Algorithm algorithm = Algorithm::fixed_window;
  std::int64_t limit = 0;
  std::int64_t window_ms = 0;
  std::int64_t burst = 0;
};

// Bounds of a valid limit (the sliding log stores one member per admitted unit).
inline constexpr std::int64_t kMaxLimit = 1'000'000;
inline constexpr std::int64_t kMaxSlidingLimit = 10'000;
inline constexpr std::int64_t kMaxWindowMs = 86'400'000;
// Why `l` (with `cost`) is not a valid request, or nullopt.
std::optional<std::string> check_limit(const Limit& l, std::int64_t cost);

// A named policy from the `ratelimit_policies` option: `shadow` computes and counts decisions
// but never denies; `fail_open` admits (and says so) when Redis is unavailable, where the
// default fails closed (503).
struct Policy {
  std::string name;
  Limit limit;
  bool shadow = false;
  bool fail_open = false;
};
// `name:algorithm:limit/window_seconds[:burst=N][:shadow][:fail_open]`, comma-separated.
std::optional<std::vector<Policy>> parse_policies(std::string_view text, std::string& why);

struct Decision {
  bool allowed = false;
  std::int64_t limit = 0;
  std::int64_t remaining = 0;       // units still admissible now
  std::int64_t reset_after_ms = 0;  // until the limit is fully available again
  std::int64_t retry_after_ms = 0;  // until this request would be admitted (0 when allowed)
};

struct Settings {
  std::string key_prefix = "lk:";
  std::vector<Policy> policies;  // the `ratelimit_policies` option
  Identifiers ids;               // keyed digests of the callers' keys

  // From the options (validated when the configuration loaded) and the identifier key.
  static Settings from(const Config& c, Identifiers ids);
};

class Service {
 public:
  explicit Service(Settings s) : s_(std::move(s)) {}
  // The named policy, or nullptr.
  [[nodiscard]] const Policy* policy(std::string_view name) const noexcept {
    for (const auto& p : s_.policies)
      if (p.name == name) return &p;
    return nullptr;
  }
  // `scope` names whose counter this is ("p:<policy>", "a" for ad-hoc limits, "oauth:<policy>"
  // for the OAuth endpoints' throttle): a caller's key never reaches another scope's counter.
  // errc: invalid_request (check_limit), unavailable.
  [[nodiscard]] boost::asio::awaitable<result<Decision>> check(redis::Connection& redis, std::string scope,
                                                               std::string key, Limit l, std::int64_t cost) const;

 private:
  Settings s_;
};

}  // namespace latchkey::ratelimit
