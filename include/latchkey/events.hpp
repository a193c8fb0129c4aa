// Security events: every security-relevant outcome as a record (who, from where, which
// request, what happened, the ids involved; never a token or a secret). The server writes
// them to capped Redis streams (src/server/events.cpp) and answers GET /v1/events from them.
// This header is the pure part: the event types, the record, how it is stored in a stream
// entry and read back (src/engine/events/codec.cpp; no I/O).
//
// At rest an entry holds its type and time in clear (for filtering and trimming), keyed
// digests of the user id and the client address (filters by user or IP compare digests, as
// the login counters do), and everything else sealed with the encryption ring, so Redis never
// holds an account name or an IP address in clear.
#pragma once

#include "latchkey/crypto/aead.hpp"
#include "latchkey/identity.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latchkey::events {

enum class Type : std::uint8_t {
  session_created,
  session_destroyed,  // by its token, or revoked by id on the admin API
  session_evicted,    // pushed out by a new session of the same user (session_limit)
  session_rotated,
  logout_everywhere,    // every session of a user ended (DELETE /v1/users/{id}/sessions)
  refresh_reuse,        // a retired refresh token came back: its family was revoked
  code_replay,          // an authorization code was redeemed twice: what it issued was revoked
  token_revoked,        // an access or refresh token revoked (admin API or RFC 7009)
  user_tokens_revoked,  // every token of a user revoked
  login_failure,
  lockout,     // an account (or device) locked by failures
  ip_blocked,  // a client address blocked by failures
  unlock,      // an account unlocked by an admin
  client_created,
  client_deleted,
  key_added,           // a signing or encryption key appeared on reload
  key_retired,         // a signing or encryption key left the ring on reload
  admin_auth_failure,  // a request to the admin API without a valid key
  oauth_client_auth_failure,
  console_login,  // an admin key exchanged for a console session
  console_login_failure,
  backchannel_logout,  // a logout token POSTed to a client's backchannel_logout_uri (delivered | failed)
};
inline constexpr std::size_t kTypeCount = 22;

[[nodiscard]] std::string_view type_name(Type t) noexcept;
[[nodiscard]] std::optional<Type> type_from(std::string_view name) noexcept;

struct Event {
  Type type = Type::session_created;
  std::string outcome = "ok";  // ok | refused | revoked | locked | ... (a word per type)
  std::string user_id;         // as the caller gave it; may be empty
  std::string ip;              // the client address (the end user's when the caller says it)
  std::string request_id;
  std::int64_t time_ms = 0;  // set by the recorder when 0
  // The microseconds within time_ms (0-999), stored as the fraction of `ts` so a listing can
  // order two events of one millisecond that reached Redis in the other order.
  std::int64_t time_us_part = 0;
  // The ids involved, by name: session_id, family, client_id, kid, key_kind, count,
  // locked_until. Never a token or a secret.
  std::vector<std::pair<std::string, std::string>> ids;

  Event() = default;
  Event(Type t, std::string user = {}, std::string outcome_word = "ok")
      : type(t), outcome(std::move(outcome_word)), user_id(std::move(user)) {}
  Event& with(std::string name, std::string value) {
    ids.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Where events go. One per server thread; emit() never blocks and never fails the caller.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void emit(Event e) = 0;
};

// An OAuth grant (a refresh family) that latchkey ended: revoked with its user's tokens or
// alone, or by a replayed code or a reused refresh token.
struct EndedGrant {
  std::string client_id;
  std::string user_id;  // empty when not known (a replayed code: only the grant is)
  std::string sid;      // the family id: the `sid` of the grant's ID tokens
  std::string reason;   // user_tokens_revoked | grant_revoked | code_replay | refresh_reuse
  std::string request_id;
};

// Where ended grants go: the server tells their clients (OpenID Connect Back-Channel Logout,
// src/server/backchannel_logout.hpp). ended() never blocks and never fails the caller.
class GrantEndSink {
 public:
  virtual ~GrantEndSink() = default;
  virtual void ended(EndedGrant g) = 0;
};

// What a request hands to the engine so that an event found deep inside a capability (a
// reused refresh token, a replayed code) carries the request's id and client address, and a
// grant the engine ends is told to its client.
struct Scope {
  Sink* sink = nullptr;
  std::string request_id;
  std::string ip;
  GrantEndSink* grant_ends = nullptr;
  void emit(Event e) const {
    if (!sink) return;
    if (e.request_id.empty()) e.request_id = request_id;
    if (e.ip.empty()) e.ip = ip;
    sink->emit(std::move(e));
  }
  void grant_ended(std::string client_id, std::string user_id, std::string sid, std::string reason) const {
    if (!grant_ends || client_id.empty() || sid.empty()) return;
    grant_ends->ended(
        EndedGrant{std::move(client_id), std::move(user_id), std::move(sid), std::move(reason), request_id});
  }
};

// How events are stored and read back.
class Codec {
 public:
  Codec(const crypto::KeyRing& encryption, const Identifiers& ids) : ring_(encryption), ids_(ids) {}
  // The digests filters compare: of a user id, of a client address.
  [[nodiscard]] std::string user_digest(std::string_view user_id) const;
  [[nodiscard]] std::string ip_digest(std::string_view ip) const;
  // The field-value pairs of a stream entry (XADD's arguments after the id).
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> encode(const Event& e) const;
  // An entry read back (its field-value pairs); nullopt when it is not an event of this
  // server (unknown type, or sealed under a key no longer in the ring).
  [[nodiscard]] std::optional<Event> decode(const std::vector<std::pair<std::string, std::string>>& fields) const;

 private:
  const crypto::KeyRing& ring_;
  const Identifiers& ids_;
};

// The event as JSON: {"id"?, "time" (RFC 3339 UTC with ms), "type", "outcome", "user_id",
// "ip", "request_id", and each id by name}. Empty members are left out.
[[nodiscard]] boost::json::object to_json(const Event& e, std::string_view id = {});
// One JSON line (with "type":"security_event" beside the event's own "event" type) for the
// stdout copy log shippers read.
[[nodiscard]] std::string to_log_line(const Event& e);

// Which stream of kPartitions an event goes to: by its user (so one user's events are in one
// stream, in order), else its address. FNV-1a: the same on every server.
inline constexpr unsigned kPartitions = 4;
[[nodiscard]] unsigned partition_of(std::string_view user_id, std::string_view ip) noexcept;

}  // namespace latchkey::events
