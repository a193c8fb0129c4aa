// Crypto primitives on OpenSSL 3: CSPRNG, SHA-256, HMAC-SHA-256, base64url, hex and
// constant-time comparison. All functions are thread-safe and allocation-light; none throws
// except on allocation failure. Randomness comes only from RAND_bytes (never rand()/mt19937).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace latchkey::crypto {

using bytes_view = std::span<const std::uint8_t>;
using Sha256Digest = std::array<std::uint8_t, 32>;

inline bytes_view as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Fills out with CSPRNG bytes. Aborts the process if the CSPRNG fails: continuing with
// predictable tokens would be worse than stopping.
void random_bytes(std::span<std::uint8_t> out);

// A fresh CSPRNG token of `bytes` bytes (default 256 bits), base64url without padding (43
// characters for 32 bytes, 22 for 16).
std::string random_token(std::size_t bytes = 32);
// Whether `s` has random_token(bytes)'s shape: base64url of exactly `bytes` bytes.
bool is_random_token(std::string_view s, std::size_t bytes) noexcept;

Sha256Digest sha256(bytes_view data) noexcept;
inline Sha256Digest sha256(std::string_view s) noexcept { return sha256(as_bytes(s)); }

// base64url(SHA-256(s)): how every bearer secret (session token, refresh token, code, client
// secret) is named at rest; 43 characters.
std::string sha256_base64url(std::string_view s);

Sha256Digest hmac_sha256(bytes_view key, bytes_view data) noexcept;

// HMAC-SHA-256 with the key's inner and outer hash states computed once: a MAC of a short
// message is then two SHA-256 finalisations with no allocation and no algorithm lookup
// (about 5x cheaper than hmac_sha256() per call). Immutable after construction, so one
// instance may be used from many threads.
class PreparedHmacSha256 {
 public:
  explicit PreparedHmacSha256(bytes_view key) noexcept;
  Sha256Digest mac(bytes_view data) const noexcept;

 private:
  // Two OpenSSL SHA256_CTX values after absorbing the padded key (size checked in the .cpp).
  alignas(8) unsigned char inner_[112]{};
  alignas(8) unsigned char outer_[112]{};
};

// base64url (RFC 4648 section 5) without padding.
std::string base64url_encode(bytes_view data);
inline std::string base64url_encode(std::string_view s) { return base64url_encode(as_bytes(s)); }
// Strict decoding: rejects padding, characters outside the alphabet, a length of 1 mod 4 and
// non-canonical trailing bits, so one byte string has exactly one accepted encoding.
std::optional<std::string> base64url_decode(std::string_view text);

std::string hex_encode(bytes_view data);
std::optional<std::string> hex_decode(std::string_view text);

// Constant-time equality for secrets. The lengths are not secret (they are fixed by format);
// different lengths compare unequal without looking at the contents.
bool constant_time_equal(bytes_view a, bytes_view b) noexcept;
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  return constant_time_equal(as_bytes(a), as_bytes(b));
}

}  // namespace latchkey::crypto
