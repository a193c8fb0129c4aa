// What the rate-limit scripts answer, decoded without I/O (contract: the headers of
// lua/ratelimit_*.lua), unit-tested with reply values (tests/engine/ratelimit/replies_test.cpp).
// A reply of the wrong shape is `internal` (and logged), never an admission.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/redis/reply.hpp"

#include <cstdint>

namespace latchkey::ratelimit::replies {

// ratelimit_fixed_window, ratelimit_sliding_window, ratelimit_gcra (one shape):
// {allowed 0|1, remaining, reset_after (ms), retry_after (ms)}.
struct Limited {
  bool allowed = false;
  std::int64_t remaining = 0;
  std::int64_t reset_after_ms = 0;
  std::int64_t retry_after_ms = 0;
};
[[nodiscard]] result<Limited> ratelimit(const redis::Reply& r, const char* script);

}  // namespace latchkey::ratelimit::replies
