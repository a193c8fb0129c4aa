// Login and API protection (the "guard" capability): rate limits, the engine API behind
// /v1/ratelimit/check. Each algorithm is one Lua script (lua/ratelimit_*.lua) that decides
// and sets the key's expiry atomically, on Redis's clock.
//
// Keys: <prefix>rl:<f|s|g>:<sha256(key)> (the caller's key is hashed: it may hold an IP or an
// account name). Key schema: docs/redis.md.
#pragma once

#include "latchkey/crypto/primitives.hpp"
#include "latchkey/error.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey {
namespace redis {
class Connection;
}
}  // namespace latchkey

namespace latchkey::guard {

// Identifiers as login protection and the throttles count them (src/engine/guard/identity.cpp).
// An IP address in any spelling: IPv4 as dotted quad, IPv4-mapped IPv6 as IPv4, other IPv6
// grouped by its first `ipv6_prefix` bits ("2001:db8::/64"); nullopt when `text` is not an
// address (a zone index is dropped).
std::optional<std::string> canonical_address(std::string_view text, int ipv6_prefix);
// An account name as one spelling: Unicode NFKC case folding (NFKC_Casefold), surrounding
// white space trimmed; nullopt when not UTF-8 or nothing is left.
std::optional<std::string> canonical_account(std::string_view user_id);
// The same through ICU for any text (canonical_account takes it for all but ASCII).
std::optional<std::string> canonical_account_unicode(std::string_view user_id);

// Keyed digests of identifiers for Redis key names: HMAC-SHA-256(key, kind NUL id), 128 bits,
// base64url. `kind` separates namespaces (no caller-chosen id can reach another kind's
// counter); the key (DIR/identifiers.json) makes digests of guessable ids (every IPv4
// address, a list of e-mail addresses) useless without it.
class Identifiers {
 public:
  Identifiers() : Identifiers(std::string()) {}
  explicit Identifiers(const std::string& key);
  std::string of(std::string_view kind, std::string_view id) const;

 private:
  crypto::PreparedHmacSha256 mac_;  // the key absorbed once: two SHA-256 blocks per digest
};

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

// Milliseconds as whole seconds, rounded up (a client waiting this long is never early).
inline std::int64_t ceil_seconds(std::int64_t ms) noexcept { return (ms + 999) / 1000; }

struct Decision {
  bool allowed = false;
  std::int64_t limit = 0;
  std::int64_t remaining = 0;       // units still admissible now
  std::int64_t reset_after_ms = 0;  // until the limit is fully available again
  std::int64_t retry_after_ms = 0;  // until this request would be admitted (0 when allowed)
};

class RateLimiter {
 public:
  RateLimiter(std::string key_prefix, std::vector<Policy> policies, Identifiers ids = Identifiers())
      : prefix_(std::move(key_prefix)), policies_(std::move(policies)), ids_(std::move(ids)) {}
  // The named policy, or nullptr.
  const Policy* policy(std::string_view name) const noexcept {
    for (const auto& p : policies_)
      if (p.name == name) return &p;
    return nullptr;
  }
  // `scope` names whose counter this is ("p:<policy>", "a" for ad-hoc limits, "oauth:<policy>"
  // for the OAuth endpoints' throttle): a caller's key never reaches another scope's counter.
  // errc: invalid_request (check_limit), unavailable.
  [[nodiscard]] boost::asio::awaitable<result<Decision>> check(redis::Connection& redis, std::string scope,
                                                               std::string key, Limit l, std::int64_t cost) const;

 private:
  std::string prefix_;
  std::vector<Policy> policies_;
  Identifiers ids_;
};

}  // namespace latchkey::guard

namespace latchkey::guard {

// Failed-login tracking and lockout (the engine API behind /v1/logins/...).
//
// Failures are counted per account, per IP and, for a device that has logged in before, per
// device (its device token, issued at each success). An account locks after
// `max_failures` within `window`, for `lock_base`, doubling with each further lockout up to
// `lock_max`. A trusted device presenting its token is judged by its own counter, so an
// attacker hammering the account from elsewhere cannot lock its owner out of that device
// (OWASP's device-cookie defence). An IP locks after `ip_max_failures` within `window` for
// `window`, whatever accounts it tries. latchkey never knows which accounts exist: unknown
// ones are counted and answered exactly like known ones.
//
// An allowed check is a reservation: it holds one of the counter's `max_failures` slots until
// the attempt's failure or success is reported (or `attempt_hold` passes), so failures in the
// window plus attempts in flight never exceed the budget, however many guesses run in
// parallel. Every deadline is on Redis's clock (TIME in the scripts), the one clock all
// latchkey nodes share; tests may inject their own.
struct LoginSettings {
  std::string key_prefix = "lk:";
  std::int64_t max_failures = 5;
  std::int64_t ip_max_failures = 50;
  std::int64_t window_ms = 900'000;
  std::int64_t lock_base_ms = 60'000;
  std::int64_t lock_max_ms = 3'600'000;
  std::int64_t memory_ms = 86'400'000;  // how long the lockout count is remembered
  std::int64_t device_ttl_ms = 2'592'000'000;
  std::int64_t attempt_hold_ms = 10'000;  // how long an allowed check holds its slot unreported
  int ipv6_prefix = 64;                   // IPv6 clients counted per network of this size
  bool canonical_user_id = true;          // count NFKC-case-folded, trimmed account names
  Identifiers ids;                        // keyed digests of accounts and addresses
};

struct LoginVerdict {
  bool allowed = true;
  bool ip_blocked = false;           // refused because of the IP, not the account
  bool busy = false;                 // refused because the budget is held by attempts in flight
  std::int64_t locked_until_ms = 0;  // 0 when not locked
  std::int64_t retry_after_ms = 0;
};

struct FailureResult {
  std::int64_t failures = 0;
  bool locked = false;
  std::int64_t locked_until_ms = 0;
  std::int64_t retry_after_ms = 0;
};

struct LockoutState {
  std::int64_t failures = 0;
  std::int64_t lockouts = 0;
  std::int64_t locked_until_ms = 0;  // 0 when not locked
};

class Logins {
 public:
  using Clock = std::int64_t (*)();  // Unix time in ms; nullptr: Redis's clock (TIME)
  explicit Logins(LoginSettings s, Clock clock = nullptr);
  const LoginSettings& settings() const noexcept { return s_; }
  // errc: invalid_request (`ip` not an address, `user_id` not valid UTF-8), unavailable (lockout
  // fails closed).
  [[nodiscard]] boost::asio::awaitable<result<LoginVerdict>> check(redis::Connection& redis, std::string user_id,
                                                                   std::string ip, std::string device_token) const;
  [[nodiscard]] boost::asio::awaitable<result<FailureResult>> failure(redis::Connection& redis, std::string user_id,
                                                                      std::string ip, std::string device_token) const;
  // Clears the account's failure count (and the device's, when its token is valid; never the
  // IP's) and returns a new device token for this user and device.
  [[nodiscard]] boost::asio::awaitable<result<std::string>> success(redis::Connection& redis, std::string user_id,
                                                                    std::string ip, std::string device_token) const;
  [[nodiscard]] boost::asio::awaitable<result<LockoutState>> state(redis::Connection& redis, std::string user_id) const;
  [[nodiscard]] boost::asio::awaitable<result<void>> unlock(redis::Connection& redis, std::string user_id) const;

 private:
  struct Keys;
  // nullopt when `ip` (if not empty) is not an address or `user_id` has no canonical form.
  std::optional<Keys> keys_of(const std::string& user_id, const std::string& ip, const std::string& device_token) const;
  std::string now_arg() const;
  LoginSettings s_;
  Clock clock_;
};

}  // namespace latchkey::guard
