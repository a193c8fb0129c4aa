// The local wall clock in Unix seconds. Deadlines that must agree across nodes use Redis's
// TIME instead (inside the scripts); this is for what is local by nature: JWT exp/nbf checks,
// key activation, informational creation times.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace latchkey {

inline std::int64_t unix_now() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The same in milliseconds (the login lockout's default clock; tests inject their own).
inline std::int64_t unix_now_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Unix seconds as an RFC 3339 UTC time, "2026-12-02T10:34:36Z" (what the CLI prints).
inline std::string utc_time(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

// Milliseconds as whole seconds, rounded up (a client told to wait this long is never early).
inline std::int64_t ceil_seconds(std::int64_t ms) noexcept { return (ms + 999) / 1000; }

}  // namespace latchkey
