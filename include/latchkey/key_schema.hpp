// Every Redis key latchkey writes and every kind of bearer handle it issues, named in one
// place: one function per row of docs/redis.md's key schema (a test builds each family and
// checks its slot). Capabilities build keys only through these.
//
// Per-user keys carry the user's hash tag {T} (UserSlot), so everything one user owns, and
// so every per-user script call, is in one Cluster slot. Keys that belong to no user (OAuth
// clients, an IP's login counter, rate-limit counters, the readiness probe) route by their
// own slot; each is touched alone or with keys of its own tag.
#pragma once

#include "latchkey/redis/slot.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace latchkey::key_schema {

// The version byte of each kind of bearer handle (redis::new_handle): a handle of one kind is
// never even looked up as another. One list, so a new kind cannot reuse a byte.
enum class Handle : std::uint8_t {
  session = 1,
  refresh_token = 2,
  authorization_code = 3,
  opaque_access_token = 4,
  device_token = 5,
  // A session token that also carries its session's idle timeout (4 bytes, big endian), so
  // validation can slide the idle deadline in the same pipeline that reads the session.
  session_with_idle = 6,
};

[[nodiscard]] inline std::string new_handle(Handle kind, std::uint16_t slot, std::span<const std::uint8_t> extra = {}) {
  return redis::new_handle(static_cast<std::uint8_t>(kind), slot, extra);
}
[[nodiscard]] inline std::optional<std::uint16_t> handle_slot(std::string_view handle, Handle kind,
                                                              std::span<std::uint8_t> extra = {}) {
  return redis::handle_slot(handle, static_cast<std::uint8_t>(kind), extra);
}

// The keys of one user's slot: <prefix><family>:{T}:<id>. The *_prefix forms (everything up
// to the id) go to scripts that derive a sibling's name from an id they read. Cheap to make
// (no allocation); `key_prefix` must outlive it (it is the configuration's).
class UserSlot {
 public:
  UserSlot(std::string_view key_prefix, std::uint16_t slot);
  std::uint16_t slot() const noexcept { return slot_; }
  const std::string& tag() const noexcept { return tag_; }

  // Sessions.
  [[nodiscard]] std::string session(std::string_view session_id) const { return key("s:", session_id); }
  [[nodiscard]] std::string session_prefix() const { return key("s:", {}); }
  [[nodiscard]] std::string session_index(std::string_view user_hash) const { return key("u:", user_hash); }
  [[nodiscard]] std::string session_index_prefix() const { return key("u:", {}); }
  // Refresh tokens and their families.
  [[nodiscard]] std::string refresh_token(std::string_view token_hash) const { return key("rt:", token_hash); }
  [[nodiscard]] std::string refresh_token_prefix() const { return key("rt:", {}); }
  [[nodiscard]] std::string family(std::string_view family_id) const { return key("rf:", family_id); }
  [[nodiscard]] std::string family_prefix() const { return key("rf:", {}); }
  [[nodiscard]] std::string family_index(std::string_view user_hash) const { return key("ru:", user_hash); }
  // Revocation state of access tokens.
  [[nodiscard]] std::string denied_jti(std::string_view jti) const { return key("tj:", jti); }
  [[nodiscard]] std::string family_marker(std::string_view family_id) const { return key("tf:", family_id); }
  [[nodiscard]] std::string family_marker_prefix() const { return key("tf:", {}); }
  [[nodiscard]] std::string revocation_epoch(std::string_view user_hash) const { return key("te:", user_hash); }
  [[nodiscard]] std::string revocation_epoch_prefix() const { return key("te:", {}); }
  [[nodiscard]] std::string code_epoch(std::string_view user_hash) const { return key("tc:", user_hash); }
  [[nodiscard]] std::string code_epoch_prefix() const { return key("tc:", {}); }
  // OAuth.
  [[nodiscard]] std::string opaque_access_token(std::string_view token_hash) const { return key("ta:", token_hash); }
  [[nodiscard]] std::string authorization_code(std::string_view code_hash) const { return key("ac:", code_hash); }
  // OpenID Connect: the login behind a grant (sealed), by refresh family id.
  [[nodiscard]] std::string oidc_login(std::string_view family_id) const { return key("oi:", family_id); }
  // DPoP: a proof's jti seen (the slot is the proof key's thumbprint's, not a user's).
  [[nodiscard]] std::string dpop_jti(std::string_view jti_hash) const { return key("dj:", jti_hash); }
  // The slot's migration guard <prefix>mg:{T}: never written. Every script that names a key
  // it did not declare (a sibling read from an index, a prefix + id) also declares this one,
  // so the call has two keys of which one never exists: while the slot migrates, Redis
  // Cluster answers TRYAGAIN (or ASK, then TRYAGAIN at the target) instead of running the
  // script on a node that holds only some of the slot's keys. Outside a migration it costs
  // nothing (docs/redis.md, "Cluster").
  [[nodiscard]] std::string migration_guard() const;
  // Login protection.
  [[nodiscard]] std::string login_account(std::string_view account_id) const { return key("la:", account_id); }
  [[nodiscard]] std::string login_device(std::string_view device_hash) const { return key("ld:", device_hash); }

 private:
  [[nodiscard]] std::string key(std::string_view family, std::string_view id) const;
  std::string_view prefix_;
  std::uint16_t slot_;
  const std::string& tag_;
};

// Keys of no user, each in its own slot.
// <prefix>oc:<client_id>: an OAuth client.
[[nodiscard]] std::string oauth_client(std::string_view key_prefix, std::string_view client_id);
// <prefix>ocs: every client id (a sorted set, score 0, in id order) for the admin list.
[[nodiscard]] std::string oauth_client_index(std::string_view key_prefix);
// <prefix>lp:<id>: an IP's (IPv6: a prefix's) failed logins; `id` is its keyed identifier.
[[nodiscard]] std::string login_ip(std::string_view key_prefix, std::string_view id);
// Rate-limit counters by algorithm; `id` is the keyed identifier of (scope, key).
[[nodiscard]] std::string ratelimit_fixed_window(std::string_view key_prefix, std::string_view id);
[[nodiscard]] std::string ratelimit_gcra(std::string_view key_prefix, std::string_view id);
// The sliding log and its unit count: two keys, one tag, one slot.
[[nodiscard]] std::string ratelimit_sliding_log(std::string_view key_prefix, std::string_view id);
[[nodiscard]] std::string ratelimit_sliding_count(std::string_view key_prefix, std::string_view id);
// <prefix>ev:{ev<N>}: security event stream N of events::kPartitions (capped streams, each in
// its own slot, so a Cluster spreads the writes).
[[nodiscard]] std::string events_stream(std::string_view key_prefix, unsigned partition);
// <prefix>probe:{readyz}: what /readyz writes.
[[nodiscard]] std::string readiness_probe(std::string_view key_prefix);

}  // namespace latchkey::key_schema
