// What each login script answers, decoded without I/O: one function per reply shape of
// lua/login_*.lua, beside the contract in those scripts' headers, unit-tested with reply
// values (tests/engine/logins/replies_test.cpp). Each gives the decoded
// value or the engine error the reply means; a reply of the wrong shape is `internal` (and
// logged), never an admission.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/redis/reply.hpp"

#include <array>
#include <cstdint>

namespace latchkey::logins::replies {

// One counter's verdict in login_check's answer.
struct CounterVerdict {
  bool refuses = false;
  std::int64_t locked_until_ms = 0;  // 0: not locked
  std::int64_t busy_until_ms = 0;    // 0: a slot is free
};

// login_check with one counter, called once per counter (one slot each, as Redis Cluster
// needs: the account's counter is in the user's slot, the IP's in its own):
// {1 reserved | 0 refused, now (ms), refuses, locked until, busy until}.
struct CheckedOne {
  bool reserved = false;
  std::int64_t now_ms = 0;
  CounterVerdict counter{};
};
[[nodiscard]] result<CheckedOne> login_check_one(const redis::Reply& r);

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

}  // namespace latchkey::logins::replies
