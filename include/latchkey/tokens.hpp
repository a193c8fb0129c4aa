// JWT access tokens and rotating refresh tokens: the engine API behind /v1/tokens.
//
// Access token: JWS (crypto/jws.hpp) with header {alg, kid, typ: "at+jwt"} and claims iss,
//   sub (= user_id), aud (when given), iat, nbf, exp, jti, sid (the refresh family), scope
//   (when given) and the caller's custom claims. Verified locally (signature, typ, iss, aud,
//   exp/nbf with leeway), then against revocation in one Redis command: the jti denylist, the
//   user's revocation epoch and the family's revocation marker (all in the user's slot).
// Refresh token: an opaque handle (redis/slot.hpp, version 2), stored only as SHA-256. Each
//   login starts a family; each refresh retires the presented token and issues a new pair.
//   The token just retired may be presented again within the grace window and gets the very
//   same pair back; any other retired token revokes the family (theft detection).
// OAuth access tokens (AccessFormat::opaque): an opaque handle (version 4) whose record, by
//   SHA-256, holds client, scope, user (sealed), family, iat and exp; introspection reads it.
//   Grants with a client_id are OAuth grants: their refresh tokens are bound to that client.
// Key schema: docs/redis.md.
#pragma once

#include "latchkey/crypto/aead.hpp"
#include "latchkey/crypto/signing_ring.hpp"
#include "latchkey/dpop.hpp"
#include "latchkey/error.hpp"
#include "latchkey/events.hpp"
#include "latchkey/redis/reply.hpp"
#include "latchkey/redis/request.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace latchkey {
struct Config;
namespace redis {
class Connection;
}
}  // namespace latchkey

namespace latchkey::tokens {

struct Settings {
  std::string key_prefix = "lk:";
  std::string issuer = "latchkey";
  std::int64_t access_ttl = 900;
  std::int64_t leeway = 30;
  crypto::jws::AlgSet allowed = crypto::jws::AlgSet::all();
  std::int64_t refresh_idle_ttl = 1209600;
  std::int64_t refresh_absolute_ttl = 2592000;
  std::int64_t grace = 10;
  std::size_t max_bytes = 8192;
  std::int64_t max_families = 100;  // refresh families per user; the oldest beyond it are revoked
  unsigned wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{500};
  bool dpop_nonce = false;         // oauth_dpop_nonce: DPoP proofs must carry a server nonce (RFC 9449 8)
  std::int64_t dpop_max_age = 60;  // oauth_dpop_proof_max_age

  static Settings from(const Config& c);
};

// Claim names a caller may not set through `claims`: the ones latchkey sets or whose meaning
// other parties rely on (RFC 7519 4.1, RFC 9068 2.2, RFC 8693, OpenID Connect).
bool reserved_claim(std::string_view name) noexcept;

enum class AccessFormat : std::uint8_t { jwt, opaque };

struct Grant {
  std::string user_id;             // empty only for a client's own grant (client_credentials)
  std::string client_id;           // the OAuth client; empty for /v1/tokens
  std::string claims_json = "{}";  // serialized JSON object of custom claims, validated
  std::string scope;               // empty: no scope claim
  std::string audience;            // empty: no aud claim
  std::string jkt;                 // DPoP (RFC 9449): the access token is bound to this key; empty: Bearer
  std::string refresh_jkt;         // the refresh token is bound to this key (public clients); sealed with the grant
};

struct Pair {
  std::string access_token;
  std::string refresh_token;  // empty when none was issued
  std::int64_t expires_in = 0;
  std::string scope;  // the access token's scope
  // The grant behind the pair (what an ID token says about it).
  std::string user_id, family_id;
  std::string jkt;  // the access token's DPoP binding; empty: Bearer
};

struct IssueOptions {
  AccessFormat format = AccessFormat::jwt;
  bool refresh = true;    // start a refresh family; else only an access token
  std::string family_id;  // pre-chosen family id (OAuth codes remember it); empty: a new one
};

struct RefreshOptions {
  std::string client_id;             // must equal the grant's (empty for /v1/tokens grants)
  std::optional<std::string> scope;  // narrows the new access token's scope (never widens)
  AccessFormat format = AccessFormat::jwt;
  const events::Scope* events = nullptr;  // where a detected reuse is reported (refresh_reuse)
  // The key of the DPoP proof sent with the refresh (empty: none). A refresh token bound to a
  // key (Grant::refresh_jkt) is invalid_grant with any other; the new access token is bound to it.
  std::string jkt;
};

// What an active access token (either format) says, for RFC 7662 introspection.
struct Introspection {
  std::string client_id, sub, scope, audience, jti;
  std::string sid;  // the refresh family (OAuth grant) the token came from; empty for none
  std::string jkt;  // cnf.jkt (RFC 9449 6): the DPoP key the token is bound to; empty: Bearer
  std::int64_t iat = 0, exp = 0;
};

// A verified access token.
struct AccessClaims {
  std::string payload_json;  // the claims exactly as signed
  std::string sub, jti, sid;
  std::string client_id;  // set in OAuth access tokens (RFC 9068), empty in first-party ones
  std::string jkt;        // cnf.jkt: bound to this DPoP key (RFC 9449 6.1); empty: Bearer
  std::int64_t iat = 0, exp = 0;
};

// Signing and local verification (no I/O).
class AccessTokens {
 public:
  AccessTokens(const crypto::SigningRing& ring, const Settings& s);
  std::string mint(const Grant& g, std::string_view jti, std::string_view sid, std::int64_t now) const;
  // Everything but revocation. `audience`: the caller's identity as a resource server; a
  // token with an aud verifies only for a caller naming one of its audiences, and a token
  // without aud only for a caller naming none (nullopt: not checked, for revocation). The
  // string says why not (for logs).
  std::variant<AccessClaims, std::string> check(std::string_view token, std::int64_t now,
                                                std::optional<std::string_view> audience) const;

 private:
  const crypto::SigningRing& ring_;
  const Settings& s_;
  crypto::jws::Verifier verifier_;
};

class Service {
 public:
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;
  Service(Settings settings, const crypto::SigningRing& signing, const crypto::KeyRing& encryption)
      : s_(std::move(settings)), signing_(signing), ring_(encryption), access_(signing, s_) {}
  const Settings& settings() const noexcept { return s_; }

  // A new family and its first pair (or, with !o.refresh, an access token alone). When
  // o.family_id was revoked meanwhile (a code replayed during its redemption) the pair is
  // born revoked. errc: unavailable.
  [[nodiscard]] boost::asio::awaitable<result<Pair>> issue(redis::Connection& redis, Grant g, IssueOptions o) const;
  // (Overloads instead of default arguments: g++ 12 destroys a coroutine's defaulted class
  // argument twice.)
  [[nodiscard]] boost::asio::awaitable<result<Pair>> issue(redis::Connection& redis, Grant g) const {
    return issue(redis, std::move(g), IssueOptions{});
  }
  // First-party access tokens only, unless `accept_oauth`: then OAuth access tokens (JWT
  // format) too, while their client still exists. errc: invalid_token, unavailable.
  [[nodiscard]] boost::asio::awaitable<result<AccessClaims>> verify(redis::Connection& redis, std::string token,
                                                                    std::string audience, bool accept_oauth) const;
  // errc: invalid_grant (unknown, expired, revoked, reused, or another client's), invalid_scope
  // (o.scope is not within the grant's), unavailable.
  [[nodiscard]] boost::asio::awaitable<result<Pair>> refresh(redis::Connection& redis, std::string refresh_token,
                                                             RefreshOptions o) const;
  [[nodiscard]] boost::asio::awaitable<result<Pair>> refresh(redis::Connection& redis,
                                                             std::string refresh_token) const {
    return refresh(redis, std::move(refresh_token), RefreshOptions{});
  }
  // An access token (JWT by jti until its exp; opaque by deleting its record) or a refresh
  // token (its whole family, and the access tokens minted from it). With `client_id`, a token
  // known to belong to another client (or to none) is left alone. False when nothing live
  // was revoked.
  [[nodiscard]] boost::asio::awaitable<result<bool>> revoke(redis::Connection& redis, std::string token,
                                                            std::optional<std::string> client_id) const;
  [[nodiscard]] boost::asio::awaitable<result<bool>> revoke(redis::Connection& redis, std::string token) const {
    return revoke(redis, std::move(token), std::nullopt);
  }
  // Revokes a family by id (an authorization code's, on replay: RFC 6749 10.5), and the
  // access tokens minted from it. True when the family was live.
  [[nodiscard]] boost::asio::awaitable<result<bool>> revoke_family(redis::Connection& redis, std::uint16_t slot,
                                                                   std::string family_id, std::string user_hash) const;
  // An access token of either format, active now (signature/expiry and revocation checked;
  // the audience is not; `token` empty when not active), with the read-only commands of
  // `before` sent in the same round trip (the OAuth endpoint reads the caller's client record
  // this way). errc: unavailable.
  struct Introspected {
    std::vector<redis::Reply> before;
    std::optional<Introspection> token;
  };
  [[nodiscard]] boost::asio::awaitable<result<Introspected>> introspect_after(redis::Connection& redis,
                                                                              std::string token,
                                                                              redis::Request before) const;
  // Every token issued to the user before now: access tokens by the user's epoch, refresh
  // families deleted. Returns the number of families revoked.
  [[nodiscard]] boost::asio::awaitable<result<std::int64_t>> revoke_user(redis::Connection& redis,
                                                                         std::string user_id) const;
  // The user's live refresh families (one per login or OAuth grant), oldest first: read only
  // (a family whose record has expired is skipped, not pruned). Times in Unix seconds.
  struct Family {
    std::string family_id, client_id, scope, audience;
    std::int64_t created_at = 0, last_used_at = 0, idle_expires_at = 0, expires_at = 0;
  };
  [[nodiscard]] boost::asio::awaitable<result<std::vector<Family>>> families(redis::Connection& redis,
                                                                             std::string user_id) const;
  // Revokes one of the user's families (and the access tokens minted from it). False when
  // the user has no such live family (nothing changes then). errc: unavailable.
  [[nodiscard]] boost::asio::awaitable<result<bool>> revoke_user_family(redis::Connection& redis, std::string user_id,
                                                                        std::string family_id) const;

  // A DPoP proof presented with a request (RFC 9449 4.3): checked (dpop::check), its jti
  // remembered in Redis until it could no longer be accepted (a replay is refused), and with
  // Settings::dpop_nonce its `nonce` must be one this server issued within the last two
  // minutes. Failures: invalid_dpop_proof (the reason in the description), use_dpop_nonce;
  // unavailable (no proof is accepted without the replay check).
  [[nodiscard]] boost::asio::awaitable<outcome<dpop::Proof>> accept_proof(redis::Connection& redis, std::string proof,
                                                                          dpop::Expect expect) const;
  // A fresh server nonce (the DPoP-Nonce header); rotates every minute, accepted for two.
  std::string dpop_nonce(std::int64_t now) const;

  boost::json::object jwks(std::int64_t now) const { return signing_.jwks(now); }
  const crypto::SigningRing& signing_ring() const noexcept { return signing_; }

 private:
  [[nodiscard]] boost::asio::awaitable<result<void>> durable(redis::Connection& redis, std::uint16_t slot) const;
  // The revocation lookup of a locally verified JWT: one MGET appended to `req`; revoked()
  // reads its reply.
  void add_revocation_lookup(redis::Request& req, const AccessClaims& c) const;
  [[nodiscard]] static result<bool> revoked(const redis::Reply& mget, const AccessClaims& c);
  // Stores an opaque access token's record.
  [[nodiscard]] boost::asio::awaitable<result<void>> store_opaque(redis::Connection& redis, const std::string& token,
                                                                  const Grant& g, std::string_view family_id,
                                                                  std::int64_t iat) const;
  std::string new_access(const Grant& g, AccessFormat f, std::uint16_t slot, std::string_view family_id,
                         std::int64_t now) const;
  Settings s_;
  const crypto::SigningRing& signing_;
  const crypto::KeyRing& ring_;
  AccessTokens access_;
};

}  // namespace latchkey::tokens
