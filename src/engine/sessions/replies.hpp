// What each session script answers, decoded without I/O: one function per script of
// lua/session_*.lua, beside the contract in that script's header, unit-tested with reply
// values (tests/engine/sessions/replies_test.cpp). Each gives the decoded value or the engine
// error the reply means; a reply of the wrong shape is `internal` (and logged), never a
// session.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/redis/reply.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace latchkey::sessions::replies {

// Times in Unix seconds; version counts data writes.
struct Times {
  std::int64_t created_at = 0;
  std::int64_t last_seen_at = 0;
  std::int64_t idle_expires_at = 0;
  std::int64_t expires_at = 0;
  std::int64_t version = 0;
};

// session_create: {'ok', created_at, idle_expires_at, expires_at, evicted_id...} | {'limit'}.
struct Created {
  Times times;  // last_seen_at = created_at, version 1
  std::vector<std::string> evicted;
};
[[nodiscard]] result<Created> create(redis::Reply r);

// session_validate: false (no live session) | {session_id, user_id, created_at, last_seen_at,
// idle_expires_at, expires_at, version, data, meta}; the session_id is the successor's when
// the token was retired by a rotation with overlap.
struct Stored {
  std::string session_id;
  std::string user_id;
  Times times;
  std::string sealed_data;
  std::string sealed_meta;
};
[[nodiscard]] result<Stored> validate(redis::Reply r);

// Validation's pipeline (sessions::Service::read, for a token that carries its idle timeout):
// TIME, HMGET <key> <kValidateFields>, EXPIRE <key> <idle timeout>. The session when the
// stored values say the script would answer it unchanged: live by both stored deadlines (Redis's
// clock), the slide not past the absolute deadline, no last_seen_at rewrite due, not a key
// left by a rotation, the token's idle timeout the stored one. nullopt when the script must
// decide (it also forwards, cleans up, caps at the absolute deadline and rewrites last_seen_at).
inline constexpr const char* kValidateFields[] = {"uid", "ct", "ls", "it", "ae", "v", "d", "m", "uh", "fw"};
[[nodiscard]] std::optional<Stored> pipelined_validate(redis::Replies& r, const std::string& session_id,
                                                       std::int64_t idle_ttl, std::int64_t touch_interval);

// session_update: {'ok', created_at, last_seen_at, idle_expires_at, expires_at, version,
// user_id, meta} | {'conflict', version} | {'rotated', successor} | {'gone'}. A retired token
// never writes: 'rotated' is invalid_session, as 'gone' is.
struct Updated {
  Times times;
  std::string user_id;
  std::string sealed_meta;
};
[[nodiscard]] result<Updated> update(redis::Reply r);

// session_rotate: {'ok', created_at, last_seen_at, idle_expires_at, expires_at, version,
// user_id} | {'conflict'} (nullopt: read again and retry) | {'rotated', successor} | {'gone'}.
[[nodiscard]] result<std::optional<Times>> rotate(redis::Reply r);

// session_destroy: the number of sessions deleted.
[[nodiscard]] result<std::int64_t> destroy(const redis::Reply& r);

// session_list: a flat list of {session_id, created_at, last_seen_at, idle_expires_at,
// expires_at, meta} per live session.
struct Listed {
  std::string session_id;
  Times times;  // version is not listed (0)
  std::string sealed_meta;
};
[[nodiscard]] result<std::vector<Listed>> list(redis::Reply r);

// session_destroy_user: the number of live sessions deleted.
[[nodiscard]] result<std::int64_t> destroy_user(const redis::Reply& r);

}  // namespace latchkey::sessions::replies
