// Failed-login tracking and lockout (the "logins" capability): the engine API behind
// /v1/logins/check|failure|success and /v1/users/{user_id}/lockout. Key schema: docs/redis.md.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/identity.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace latchkey {
struct Config;
namespace redis {
class Connection;
}
}  // namespace latchkey

namespace latchkey::logins {

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
struct Settings {
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

  // From the options (their durations are seconds; here milliseconds, the scripts' unit)
  // and the identifier key.
  static Settings from(const Config& c, Identifiers ids);
};

struct Verdict {
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
  bool ip_blocked = false;               // this failure locked the address (a security event)
  std::int64_t ip_blocked_until_ms = 0;  // until then, when ip_blocked
};

struct LockoutState {
  std::int64_t failures = 0;
  std::int64_t lockouts = 0;
  std::int64_t locked_until_ms = 0;  // 0 when not locked
};

class Service {
 public:
  using Clock = std::int64_t (*)();  // Unix time in ms; nullptr: Redis's clock (TIME)
  explicit Service(Settings s, Clock clock = nullptr);
  const Settings& settings() const noexcept { return s_; }
  // errc: invalid_request (`ip` not an address, `user_id` not valid UTF-8), unavailable (lockout
  // fails closed).
  [[nodiscard]] boost::asio::awaitable<result<Verdict>> check(redis::Connection& redis, std::string user_id,
                                                              std::string ip, std::string device_token) const;
  [[nodiscard]] boost::asio::awaitable<result<FailureResult>> failure(redis::Connection& redis, std::string user_id,
                                                                      std::string ip, std::string device_token) const;
  // Clears the account's failure count (and the device's, when its token is valid; never the
  // IP's) and returns a new device token for this user and device.
  [[nodiscard]] boost::asio::awaitable<result<std::string>> success(redis::Connection& redis, std::string user_id,
                                                                    std::string ip, std::string device_token) const;
  [[nodiscard]] boost::asio::awaitable<result<LockoutState>> state(redis::Connection& redis, std::string user_id) const;
  // The states of several accounts in one round trip (in the order given). In Cluster the
  // pipeline goes to each account's node.
  [[nodiscard]] boost::asio::awaitable<result<std::vector<LockoutState>>> states(
      redis::Connection& redis, std::vector<std::string> user_ids) const;
  [[nodiscard]] boost::asio::awaitable<result<void>> unlock(redis::Connection& redis, std::string user_id) const;

 private:
  struct Keys;
  // nullopt when `ip` (if not empty) is not an address or `user_id` has no canonical form.
  std::optional<Keys> keys_of(const std::string& user_id, const std::string& ip, const std::string& device_token) const;
  std::string now_arg() const;
  Settings s_;
  Clock clock_;
};

}  // namespace latchkey::logins
