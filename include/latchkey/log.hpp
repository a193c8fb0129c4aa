// Structured logging: one JSON object per line, written with a single write(2) so lines from
// several threads never interleave. Callers must never pass a secret (tokens, keys,
// passwords, codes); log hashes or ids instead.
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <mutex>
#include <vector>

namespace latchkey::log {

enum class Level { debug, info, warn, error };

// Event log (stderr): {"ts": "<ISO 8601 UTC>", "level": ..., "msg": ...}; events below the
// process's minimum level (set_min_level, the `log_level` option; info until set) are dropped.
void event(Level level, std::string_view msg);
void set_min_level(Level level) noexcept;
[[nodiscard]] bool enabled(Level level) noexcept;
// "debug", "info", "warn", "error": the `level` field of an event line.
const char* level_name(Level level) noexcept;
[[nodiscard]] std::optional<Level> level_from_name(std::string_view name) noexcept;
// Writes bytes to stdout as they are (already complete lines).
void write_stdout(std::string_view bytes);
// A kind of event an unauthenticated caller can provoke at will (a failed client
// authentication, say): at most `per_second` lines a second reach the log, the rest are
// counted, and the next line that passes says how many were dropped. Every throttle is listed
// in /metrics (latchkey_log_events_total, latchkey_log_suppressed_total). Define each as a
// static object: it registers itself and lives for the whole process. Thread-safe.
class Throttle {
 public:
  Throttle(std::string_view name, unsigned per_second);
  Throttle(const Throttle&) = delete;
  Throttle& operator=(const Throttle&) = delete;
  void event(Level level, std::string_view msg);
  const std::string& name() const noexcept { return name_; }
  std::uint64_t total() const noexcept;
  std::uint64_t suppressed() const noexcept;
  // Every throttle defined so far.
  static std::vector<const Throttle*> all();

 private:
  std::string name_;
  unsigned per_second_;
  mutable std::mutex mu_;
  std::int64_t second_ = -1;
  unsigned in_second_ = 0;
  std::uint64_t total_ = 0, suppressed_ = 0, unreported_ = 0;
};

// The completion handler for a coroutine nobody waits for (co_spawn(ex, task, LogFailure{"..."}))
// instead of asio::detached: an exception escaping the task is logged as an error naming
// `task`, rather than vanishing.
struct LogFailure {
  std::string task;
  void operator()(std::exception_ptr e) const;
};

// UTC, ISO 8601 with milliseconds: 2026-11-26T10:01:07.709Z
std::string timestamp();

// Appends the current timestamp (format above) to `out`, formatting the date part only when
// the second changes. One per thread; not thread-safe.
class TimestampCache {
 public:
  void append(std::string& out);

 private:
  std::int64_t second_ = -1;
  std::string prefix_;  // "2026-11-26T10:01:07."
};

}  // namespace latchkey::log
