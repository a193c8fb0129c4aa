// What each guard script answers, decoded without I/O: one function per reply shape of
// lua/login_*.lua and lua/ratelimit_*.lua, beside the contract in those scripts' headers,
// unit-tested with reply values (tests/engine/guard/replies_test.cpp). Each gives the decoded
// value or the engine error the reply means; a reply of the wrong shape is `internal` (and
// logged), never an admission.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/redis/reply.hpp"

#include <array>
#include <cstdint>

namespace latchkey::guard::replies {

// One counter's verdict in login_check's answer.
struct CounterVerdict {
  bool refuses = false;
  std::int64_t locked_until_ms = 0;  // 0: not locked
  std::int64_t busy_until_ms = 0;    // 0: a slot is free
};

// login_check with two counters (the account's or its device's, then the IP's):
// {1 reserved | 0 refused, now (ms), then per counter: refuses, locked until, busy until}.
struct Checked {
  bool reserved = false;
  std::int64_t now_ms = 0;
  std::array<CounterVerdict, 2> counters{};
};
[[nodiscard]] result<Checked> login_check(const redis::Reply& r);

// login_failure: {failures in the window, locked until (ms, 0), lockouts, now (ms), 1 when
// counted on the trusted device}.
struct Counted {
  std::int64_t failures = 0;
  std::int64_t locked_until_ms = 0;
  std::int64_t lockouts = 0;
  std::int64_t now_ms = 0;
  bool on_device = false;
  bool locked() const noexcept { return locked_until_ms > now_ms; }
};
[[nodiscard]] result<Counted> login_failure(const redis::Reply& r);

// ratelimit_fixed_window, ratelimit_sliding_window, ratelimit_gcra (one shape):
// {allowed 0|1, remaining, reset_after (ms), retry_after (ms)}.
struct Limited {
  bool allowed = false;
  std::int64_t remaining = 0;
  std::int64_t reset_after_ms = 0;
  std::int64_t retry_after_ms = 0;
};
[[nodiscard]] result<Limited> ratelimit(const redis::Reply& r, const char* script);

}  // namespace latchkey::guard::replies
