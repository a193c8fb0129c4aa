// Structured logging: one JSON object per line, written with a single write(2) so lines from
// several threads never interleave. Callers must never pass a secret (tokens, keys,
// passwords, codes); log hashes or ids instead.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace latchkey::log {

enum class Level { debug, info, warn, error };

// Event log (stderr): {"ts": "<ISO 8601 UTC>", "level": ..., "msg": ...}
void event(Level level, std::string_view msg);
void event(std::string_view level, std::string_view msg);
// Writes bytes to stdout as they are (already complete lines).
void write_stdout(std::string_view bytes);
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
