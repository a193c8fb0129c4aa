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

}  // namespace latchkey
