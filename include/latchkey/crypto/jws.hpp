// JSON Web Signature (RFC 7515) in compact serialization, for the four algorithms latchkey
// signs with: EdDSA (Ed25519, RFC 8037), ES256 (P-256, RFC 7518 3.4), RS256 (RSASSA-PKCS1-v1_5,
// >= 2048-bit keys) and HS256 (>= 256-bit secrets, RFC 8725 3.5). One key, one algorithm.
//
// Verification is strict (RFC 8725): the key chosen by `kid` decides the algorithm, and the
// token's `alg` must name exactly that algorithm and be in the verifier's allowlist; `none`
// never is; `jku`, `jwk`, `x5u`, `x5c` and any `crit` are refused (keys are never taken from
// the token); every segment must be canonical base64url; the size is checked before any
// decoding; header and payload must be valid UTF-8 JSON objects. Every rejection carries a
// reason for logs and tests, and callers answer all of them the same way.
#pragma once

#include "latchkey/crypto/primitives.hpp"
#include "latchkey/error.hpp"

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace latchkey::crypto::jws {

enum class Alg : std::uint8_t { EdDSA, ES256, RS256, HS256 };
inline constexpr Alg kAllAlgs[] = {Alg::EdDSA, Alg::ES256, Alg::RS256, Alg::HS256};

const char* alg_name(Alg a) noexcept;
std::optional<Alg> alg_from_name(std::string_view name) noexcept;

// A set of algorithms (the verifier's allowlist).
class AlgSet {
 public:
  AlgSet() = default;
  static AlgSet all() noexcept;
  // "EdDSA,ES256": nullopt on an unknown or empty entry.
  static std::optional<AlgSet> parse(std::string_view comma_separated);
  void add(Alg a) noexcept { bits_ |= 1u << static_cast<unsigned>(a); }
  bool contains(Alg a) const noexcept { return (bits_ >> static_cast<unsigned>(a)) & 1u; }
  bool empty() const noexcept { return bits_ == 0; }

 private:
  unsigned bits_ = 0;
};

// One key bound to one algorithm. Copies share the (immutable) key material.
class Key {
 public:
  // A fresh key: Ed25519, P-256, RSA-2048 or a 32-byte random secret.
  static Key generate(Alg alg, std::string kid);
  // A PEM private key (PKCS#8 or traditional) or public key (SubjectPublicKeyInfo) for an
  // asymmetric algorithm. Fails when the key type, curve or size does not fit the algorithm.
  [[nodiscard]] static result<Key> from_pem(Alg alg, std::string kid, std::string_view pem);
  // An HS256 secret of at least 32 bytes.
  [[nodiscard]] static result<Key> from_secret(std::string kid, std::string_view secret);
  // A JWK (RFC 7517): public "OKP"/"EC"/"RSA" keys, or "oct" secrets. `alg` is taken from the
  // JWK's "alg" member, else `fallback`; "use" other than "sig" and "key_ops" without
  // "verify" are refused.
  [[nodiscard]] static result<Key> from_jwk(const boost::json::object& jwk, std::optional<Alg> fallback = std::nullopt);

  Alg alg() const noexcept { return alg_; }
  const std::string& kid() const noexcept { return kid_; }
  bool symmetric() const noexcept { return alg_ == Alg::HS256; }
  bool has_private() const noexcept;

  // The JWS signature of `signing_input` (raw bytes; ES256 as r || s). Requires has_private().
  std::string sign(std::string_view signing_input) const;
  bool verify(std::string_view signing_input, bytes_view signature) const;

  // The public JWK with kid, alg and use; nullopt for HS256 (secrets are never published).
  std::optional<boost::json::object> public_jwk() const;
  // PKCS#8 PEM of the private key, or base64url of the secret for HS256.
  std::string private_material() const;

 private:
  struct Impl;
  Key(Alg alg, std::string kid, std::shared_ptr<const Impl> impl)
      : alg_(alg), kid_(std::move(kid)), impl_(std::move(impl)) {}
  Alg alg_ = Alg::HS256;
  std::string kid_;
  std::shared_ptr<const Impl> impl_;
};

enum class Reject : std::uint8_t {
  too_large,         // longer than the limit (checked before decoding)
  malformed,         // not three canonical base64url segments
  bad_header,        // header not a UTF-8 JSON object, or alg/kid/typ of the wrong type
  forbidden_header,  // jku, jwk, x5u, x5c, crit or b64 present
  alg_not_allowed,   // none, unknown, or outside the allowlist
  unknown_kid,       // no key with this kid (or no kid where one is required)
  alg_key_mismatch,  // the key exists but is bound to another algorithm
  bad_signature,     // wrong length or does not verify
  bad_payload,       // payload not a UTF-8 JSON object (only when a JSON payload is required)
};
const char* reject_name(Reject r) noexcept;

struct Verified {
  const Key* key = nullptr;
  boost::json::object header;
  std::string payload;         // decoded bytes
  boost::json::object claims;  // the parsed payload, when VerifyOptions::json_payload
};

struct VerifyOptions {
  AlgSet allowed = AlgSet::all();
  std::size_t max_bytes = 8192;
  bool require_kid = true;   // without a kid, only a single key of the token's alg is tried
  bool json_payload = true;  // payload must be a JSON object (JWT); false for raw JWS
};

class Verifier {
 public:
  explicit Verifier(std::vector<Key> keys, VerifyOptions options = {}) : keys_(std::move(keys)), options_(options) {}
  // The verified header and payload, or why not. Header and claims are allocated from
  // `storage` (e.g. a monotonic resource on the caller's stack), which must outlive them.
  std::variant<Verified, Reject> verify(std::string_view compact, const boost::json::storage_ptr& storage = {}) const;
  const std::vector<Key>& keys() const noexcept { return keys_; }
  const VerifyOptions& options() const noexcept { return options_; }

 private:
  std::vector<Key> keys_;
  VerifyOptions options_;
};

// header.payload.signature with `header_json` and `payload` base64url-encoded as given.
std::string sign_compact(const Key& key, std::string_view header_json, std::string_view payload);

}  // namespace latchkey::crypto::jws
