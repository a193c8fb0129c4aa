// Server-side sessions: the engine API behind /v1/sessions. Pure helpers (token format, key
// names) plus the Service, whose every multi-step change is one Lua script (lua/session_*.lua).
//
// Token:      base64url( 0x01 | slot (2 bytes, big endian) | 32 CSPRNG bytes ), 47 characters.
//             The slot is the Redis Cluster slot of the user's keys (14 bits of a hash of the
//             user id: it names no user), so a token alone finds its keys.
// session_id: base64url(SHA-256(token)), 43 characters; public, and the only form of the token
//             Redis ever sees. The token cannot be recovered from it.
// At rest:    data and device+ip are AES-256-GCM ciphertexts whose associated data is the
//             Redis key they live under, so a value copied to another session fails to decrypt.
// Key schema: docs/redis.md.
#pragma once

#include "latchkey/crypto/aead.hpp"
#include "latchkey/error.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey {
struct Config;
namespace redis {
class Connection;
}
}  // namespace latchkey

namespace latchkey::sessions {

struct Settings {
  std::string key_prefix = "lk:";
  std::int64_t idle_ttl = 1800;
  std::int64_t absolute_ttl = 43200;
  std::int64_t max_idle_ttl = 86400;
  std::int64_t max_absolute_ttl = 2592000;
  std::int64_t limit = 5;
  bool reject_new = false;  // policy: false = evict_oldest, true = reject_new
  std::int64_t touch_interval = 60;
  std::int64_t rotate_overlap = 0;

  static Settings from(const Config& c);
};

struct ParsedToken {
  std::uint16_t slot;
  std::string session_id;
  // The session's idle timeout (s) as the token carries it (bound by session_id, the hash of
  // the whole token); 0 for a token of the first format, which carries none.
  std::int64_t idle_ttl = 0;
};

// A token whose session idles out after `idle_ttl` seconds (1 .. 2^32-1): 52 characters. With
// idle_ttl 0, the first format (47 characters, no idle timeout), which is still accepted.
std::string new_token(std::uint16_t slot, std::int64_t idle_ttl = 0);
// base64url(SHA-256(token)): the public handle and the Redis key suffix of a session.
std::string session_id_of(std::string_view token);
// Strict: exact length, canonical base64url, known version (either format), slot in range,
// idle timeout not 0. Anything else is not a token (and never reaches Redis).
std::optional<ParsedToken> parse_token(std::string_view token);
bool valid_session_id(std::string_view id) noexcept;

struct NewSession {
  std::string user_id;
  std::string data_json = "{}";    // serialized JSON object
  std::string device_json = "{}";  // serialized JSON object
  std::string ip;
  std::optional<std::int64_t> idle_ttl;
  std::optional<std::int64_t> absolute_ttl;
};

struct View {
  std::string session_id;
  std::string user_id;
  std::string data_json;
  std::string device_json;
  std::string ip;
  std::int64_t created_at = 0;
  std::int64_t last_seen_at = 0;
  std::int64_t idle_expires_at = 0;
  std::int64_t expires_at = 0;
  std::int64_t version = 0;
};

struct Issued {
  std::string token;
  View view;
  std::vector<std::string> evicted;  // session ids removed by evict_oldest
};

struct Summary {
  std::string session_id;
  std::int64_t created_at = 0;
  std::int64_t last_seen_at = 0;
  std::int64_t idle_expires_at = 0;
  std::int64_t expires_at = 0;
  std::string device_json;
  std::string ip;
};

class Service {
 public:
  Service(Settings settings, const crypto::KeyRing& ring) : s_(std::move(settings)), ring_(ring) {}
  const Settings& settings() const noexcept { return s_; }

  // errc: invalid_request (TTL beyond the maxima), session_limit_reached, unavailable.
  [[nodiscard]] boost::asio::awaitable<result<Issued>> create(redis::Connection& redis, NewSession req) const;
  // errc: invalid_session, unavailable.
  [[nodiscard]] boost::asio::awaitable<result<View>> validate(redis::Connection& redis, std::string token,
                                                              bool touch) const;
  // errc: invalid_session, version_conflict, unavailable.
  [[nodiscard]] boost::asio::awaitable<result<View>> update(redis::Connection& redis, std::string token,
                                                            std::string data_json, std::int64_t version) const;
  [[nodiscard]] boost::asio::awaitable<result<Issued>> rotate(redis::Connection& redis, std::string token) const;
  // Idempotent: a malformed, unknown or expired token is simply nothing to destroy.
  [[nodiscard]] boost::asio::awaitable<result<void>> destroy(redis::Connection& redis, std::string token) const;
  [[nodiscard]] boost::asio::awaitable<result<std::vector<Summary>>> list(redis::Connection& redis,
                                                                          std::string user_id) const;
  // Returns how many live sessions were deleted.
  [[nodiscard]] boost::asio::awaitable<result<std::int64_t>> destroy_all(redis::Connection& redis, std::string user_id,
                                                                         std::string except_session_id) const;
  // errc: not_found when the user has no such live session.
  [[nodiscard]] boost::asio::awaitable<result<void>> destroy_one(redis::Connection& redis, std::string user_id,
                                                                 std::string session_id) const;

 private:
  [[nodiscard]] boost::asio::awaitable<result<View>> read(redis::Connection& redis, const ParsedToken& t,
                                                          bool touch) const;
  // lua/session_destroy_user.lua: mode "all" (keeping session_id) or "one" (only session_id).
  [[nodiscard]] boost::asio::awaitable<result<std::int64_t>> destroy_for_user(redis::Connection& redis,
                                                                              std::string user_id, const char* mode,
                                                                              std::string session_id) const;
  std::string seal_data(std::string_view data_json, const std::string& key) const;
  std::string seal_meta(std::string_view device_json, std::string_view ip, const std::string& key) const;
  bool open_meta(const std::string& sealed, const std::string& key, std::string& device_json, std::string& ip) const;

  Settings s_;
  const crypto::KeyRing& ring_;
};

}  // namespace latchkey::sessions
