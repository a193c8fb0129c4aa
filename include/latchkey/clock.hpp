// The local wall clock in Unix seconds. Deadlines that must agree across nodes use Redis's
// TIME instead (inside the scripts); this is for what is local by nature: JWT exp/nbf checks,
// key activation, informational creation times.
#pragma once

#include <chrono>
#include <cstdint>

namespace latchkey {

inline std::int64_t unix_now() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The same in milliseconds (the login lockout's default clock; tests inject their own).
inline std::int64_t unix_now_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Milliseconds as whole seconds, rounded up (a client told to wait this long is never early).
inline std::int64_t ceil_seconds(std::int64_t ms) noexcept { return (ms + 999) / 1000; }

}  // namespace latchkey
