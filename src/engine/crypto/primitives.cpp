// OpenSSL-backed implementations of the primitives in crypto/primitives.hpp.
// The low-level SHA256_* calls (deprecated in OpenSSL 3, still supported) are used only by
// PreparedHmacSha256, which needs to copy a hash state without allocating.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "latchkey/crypto/primitives.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>

namespace latchkey::crypto {

void random_bytes(std::span<std::uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    std::fputs("latchkey: fatal: the CSPRNG failed (RAND_bytes)\n", stderr);
    std::abort();
  }
}

bool is_random_token(std::string_view s, std::size_t bytes) noexcept {
  if (s.size() != (bytes * 4 + 2) / 3) return false;
  auto raw = base64url_decode(s);
  return raw && raw->size() == bytes;
}

std::string random_token(std::size_t bytes) {
  std::array<std::uint8_t, 64> raw{};
  auto out = std::span<std::uint8_t>(raw).first(std::min(bytes, raw.size()));
  random_bytes(out);
  auto token = base64url_encode(out);
  OPENSSL_cleanse(raw.data(), raw.size());
  return token;
}

namespace {
// Fetched once: OpenSSL 3's implicit per-call algorithm lookup (SHA256(), HMAC()) costs more
// than hashing a token.
const EVP_MD* sha256_md() noexcept {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
}  // namespace

Sha256Digest sha256(bytes_view data) noexcept {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, sha256_md(), nullptr);
  return out;
}

std::string sha256_base64url(std::string_view s) { return base64url_encode(sha256(s)); }

Sha256Digest hmac_sha256(bytes_view key, bytes_view data) noexcept {
  Sha256Digest out{};
  unsigned int len = 0;
  static const std::uint8_t empty = 0;
  HMAC(sha256_md(), key.empty() ? &empty : key.data(), static_cast<int>(key.size()), data.data(), data.size(),
       out.data(), &len);
  return out;
}

static_assert(sizeof(SHA256_CTX) <= 112 && alignof(SHA256_CTX) <= 8);

PreparedHmacSha256::PreparedHmacSha256(bytes_view key) noexcept {
  std::array<std::uint8_t, 64> block{};
  if (key.size() > block.size()) {
    auto d = sha256(key);
    std::copy(d.begin(), d.end(), block.begin());
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  std::array<std::uint8_t, 64> pad{};
  for (std::size_t i = 0; i < 64; ++i) pad[i] = block[i] ^ 0x36;
  auto* in = reinterpret_cast<SHA256_CTX*>(inner_);
  SHA256_Init(in);
  SHA256_Update(in, pad.data(), pad.size());
  for (std::size_t i = 0; i < 64; ++i) pad[i] = block[i] ^ 0x5c;
  auto* out = reinterpret_cast<SHA256_CTX*>(outer_);
  SHA256_Init(out);
  SHA256_Update(out, pad.data(), pad.size());
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(pad.data(), pad.size());
}

Sha256Digest PreparedHmacSha256::mac(bytes_view data) const noexcept {
  SHA256_CTX c;
  std::memcpy(&c, inner_, sizeof c);
  SHA256_Update(&c, data.data(), data.size());
  Sha256Digest inner_digest{};
  SHA256_Final(inner_digest.data(), &c);
  std::memcpy(&c, outer_, sizeof c);
  SHA256_Update(&c, inner_digest.data(), inner_digest.size());
  Sha256Digest out{};
  SHA256_Final(out.data(), &c);
  OPENSSL_cleanse(&c, sizeof c);
  return out;
}

namespace {
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> make_b64url_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64Url[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kB64UrlTable = make_b64url_table();
}  // namespace

std::string base64url_encode(bytes_view data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
    out.push_back(kB64Url[(v >> 18) & 63]);
    out.push_back(kB64Url[(v >> 12) & 63]);
    out.push_back(kB64Url[(v >> 6) & 63]);
    out.push_back(kB64Url[v & 63]);
  }
  std::size_t rest = data.size() - i;
  if (rest == 1) {
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    out.push_back(kB64Url[(v >> 18) & 63]);
    out.push_back(kB64Url[(v >> 12) & 63]);
  } else if (rest == 2) {
    std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out.push_back(kB64Url[(v >> 18) & 63]);
    out.push_back(kB64Url[(v >> 12) & 63]);
    out.push_back(kB64Url[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  const std::size_t n = text.size();
  if (n % 4 == 1) return std::nullopt;
  std::string out(n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1), '\0');
  auto value = [&](std::size_t i) { return kB64UrlTable[static_cast<unsigned char>(text[i])]; };
  std::size_t i = 0, o = 0;
  // Four characters (24 bits) at a time; any invalid character makes the OR negative.
  for (; i + 4 <= n; i += 4, o += 3) {
    std::int32_t a = value(i), b = value(i + 1), c = value(i + 2), d = value(i + 3);
    if ((a | b | c | d) < 0) return std::nullopt;
    auto v = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6) | d);
    out[o] = static_cast<char>(v >> 16);
    out[o + 1] = static_cast<char>((v >> 8) & 0xFF);
    out[o + 2] = static_cast<char>(v & 0xFF);
  }
  const std::size_t rest = n - i;
  if (rest > 0) {
    std::int32_t a = value(i), b = value(i + 1), c = rest == 3 ? value(i + 2) : 0;
    if ((a | b | c) < 0) return std::nullopt;
    auto v = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6));
    out[o] = static_cast<char>(v >> 16);
    if (rest == 3) out[o + 1] = static_cast<char>((v >> 8) & 0xFF);
    // Canonical form: the unused low bits of the last character must be zero.
    std::uint32_t unused = rest == 2 ? (v & 0xFFFF) : (v & 0xFF);
    if (unused != 0) return std::nullopt;
  }
  return out;
}

std::string hex_encode(bytes_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (auto b : data) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

bool constant_time_equal(bytes_view a, bytes_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace latchkey::crypto
