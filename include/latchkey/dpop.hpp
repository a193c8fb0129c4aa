// DPoP (RFC 9449), the pure part: checking a proof JWT against the request it came with, and
// the key thumbprint (RFC 7638) tokens are bound to (`cnf.jkt`). The replay cache and server
// nonces need Redis and the key ring: tokens::Service::accept_proof.
//
// A proof is accepted only when: it is a compact JWS of at most 4096 bytes; its header has
// typ "dpop+jwt", alg ES256, EdDSA (or its RFC 9864 name Ed25519) or RS256, and a public `jwk` (no private members) of
// that algorithm's key type, and no `kid`/`jku`/`x5u`/`x5c`/`crit`; its signature verifies with that jwk; its claims
// have a `jti` (1-128 bytes), `htm` equal to the request's method, `htu` equal to the request's URL (scheme and host
// case-insensitive, default port dropped, query and fragment ignored: RFC 9449 4.3), an integer `iat` no older than
// `max_age` and no later than `leeway` ahead; and, when an access token is presented, `ath` =
// base64url(SHA-256(token)).
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace latchkey::dpop {

struct Proof {
  std::string jkt;    // RFC 7638 thumbprint of the proof's key (base64url SHA-256)
  std::string jti;    // what the replay cache remembers
  std::string nonce;  // the `nonce` claim, empty when absent
  std::int64_t iat = 0;
};

struct Expect {
  std::string_view method;        // the request's (htm)
  std::string_view url;           // the request's, as the server knows it (htu)
  std::string_view access_token;  // presented with the proof (ath required); empty at the token endpoint
  std::int64_t now = 0;
  std::int64_t leeway = 5;    // how far in the future iat may be (clock skew)
  std::int64_t max_age = 60;  // how old iat may be (plus leeway)
  bool server_nonce = true;   // tokens::Service::accept_proof: apply oauth_dpop_nonce (latchkey's own endpoints)
};

inline constexpr std::size_t kMaxProofBytes = 4096;

// The accepted proof, or why not (for logs and tests; clients all get invalid_dpop_proof).
std::variant<Proof, std::string> check(std::string_view proof, const Expect& e);

// RFC 7638 thumbprint of a public JWK (EC P-256, OKP Ed25519, RSA); nullopt for anything else.
std::optional<std::string> thumbprint(const boost::json::object& jwk);
// RFC 9449 4.3: two http(s) URLs name the same resource for `htu`.
bool same_url(std::string_view a, std::string_view b);
// base64url(SHA-256(access token)): the `ath` claim.
std::string access_token_hash(std::string_view access_token);
// A valid DPoP-Nonce / nonce claim value (RFC 9449 8.1: 1*NQCHAR).
bool valid_nonce_syntax(std::string_view n) noexcept;

}  // namespace latchkey::dpop
