// OpenID Connect (Core 1.0) on the OAuth server, the pure part: what the backend tells
// latchkey about a login, which claims a scope releases, and the ID token itself. latchkey
// stays headless: the backend authenticates the user and hands these over with the
// authorization (POST /v1/oauth/authorizations); the token endpoint signs them.
//
// Storage: the login (without its nonce) is sealed under <prefix>oi:{T}:<family id> for the
// grant's lifetime (docs/redis.md), so a refresh and /oauth2/userinfo see the same claims.
#pragma once

#include "latchkey/crypto/signing_ring.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::oidc {

// What the backend knows after the user logged in.
struct Login {
  std::string nonce;                      // echoed in the ID token of the code (OIDC Core 3.1.2.1)
  std::optional<std::int64_t> auth_time;  // when the user authenticated (Unix seconds)
  std::string acr;
  std::vector<std::string> amr;
  std::string claims_json = "{}";  // the user's claims (a JSON object of standard claims), checked
};

// The limits, with the reason of a refusal (invalid_request), or nullopt when acceptable:
// nonce 1-512 printable ASCII; auth_time not after now + leeway; acr 1-256 bytes; amr at most
// 16 entries of 1-64 bytes; claims a JSON object of at most 4096 bytes, each member a
// standard claim (OIDC Core 5.1) of its type, none of them `sub` (latchkey's user id is).
std::optional<std::string> check(const Login& l, std::int64_t now, std::int64_t leeway);
// The claims object sent as JSON text: validated, re-serialized (canonical), or the reason.
std::optional<std::string> check_claims(const boost::json::object& claims);

// What is stored for the grant (no nonce) and read back; nullopt when malformed.
std::string stored_json(const Login& l);
std::optional<Login> from_stored_json(std::string_view text);

// The user's claims that `scope` releases (OIDC Core 5.4: profile, email, address, phone).
boost::json::object released_claims(std::string_view claims_json, std::string_view scope);

// OIDC Core 3.1.3.6: base64url of the left half of the hash of `token` that goes with the
// signing algorithm (SHA-256 for ES256/RS256/HS256, SHA-512 for EdDSA with Ed25519).
std::string left_half_hash(std::string_view token, crypto::jws::Alg alg);

struct IdTokenInput {
  std::string issuer, subject, client_id, sid, access_token, scope;
  Login login;  // nonce only on the code's ID token
  std::int64_t iat = 0, ttl = 0;
};
// A signed ID token (typ JWT) by the ring's current signer; nullopt when that key is HS256
// (an ID token must be verifiable with the published keys).
std::optional<std::string> mint_id_token(const crypto::SigningRing& ring, const IdTokenInput& in);

// The algorithms ID tokens may be signed with: the ring's asymmetric ones.
std::vector<std::string> signing_algs(const crypto::SigningRing& ring, std::int64_t now);

}  // namespace latchkey::oidc
