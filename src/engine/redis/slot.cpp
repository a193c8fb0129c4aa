// Hash-slot arithmetic and the table of one short tag per slot.
#include "latchkey/redis/slot.hpp"

#include "latchkey/crypto/primitives.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <vector>

namespace latchkey::redis {

std::uint16_t crc16(std::string_view data) noexcept {
  std::uint16_t crc = 0;
  for (unsigned char c : data) {
    crc = static_cast<std::uint16_t>(crc ^ (c << 8));
    for (int i = 0; i < 8; ++i)
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
  }
  return crc;
}

std::uint16_t key_slot(std::string_view key) noexcept {
  auto open = key.find('{');
  if (open != std::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close != open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return static_cast<std::uint16_t>(crc16(key) % kSlotCount);
}

const std::string& slot_tag(std::uint16_t slot) {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(kSlotCount);
    std::size_t filled = 0;
    static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    constexpr std::size_t n = sizeof(alphabet) - 1;
    // Shortest first: 1..4 characters cover all 16384 slots.
    for (std::size_t len = 1; len <= 4 && filled < kSlotCount; ++len) {
      std::size_t total = 1;
      for (std::size_t i = 0; i < len; ++i) total *= n;
      for (std::size_t k = 0; k < total && filled < kSlotCount; ++k) {
        std::string s(len, '0');
        std::size_t v = k;
        for (std::size_t i = 0; i < len; ++i) {
          s[len - 1 - i] = alphabet[v % n];
          v /= n;
        }
        auto hit = crc16(s) % kSlotCount;
        if (t[hit].empty()) {
          t[hit] = "{" + s + "}";
          ++filled;
        }
      }
    }
    return t;
  }();
  return table[slot % kSlotCount];
}

namespace {
constexpr std::size_t kHandleBytes = 35;  // version, slot, 32 random bytes
constexpr std::size_t kMaxExtra = 8;
constexpr std::size_t encoded_size(std::size_t bytes) { return (bytes * 4 + 2) / 3; }
}  // namespace

std::string new_handle(std::uint8_t version, std::uint16_t slot, std::span<const std::uint8_t> extra) {
  std::array<std::uint8_t, kHandleBytes + kMaxExtra> raw{};
  const std::size_t n = kHandleBytes + std::min(extra.size(), kMaxExtra);
  raw[0] = version;
  raw[1] = static_cast<std::uint8_t>(slot >> 8);
  raw[2] = static_cast<std::uint8_t>(slot & 0xFF);
  std::copy_n(extra.begin(), n - kHandleBytes, raw.begin() + 3);
  crypto::random_bytes(std::span<std::uint8_t>(raw).subspan(3 + (n - kHandleBytes), 32));
  auto out = crypto::base64url_encode(std::span<const std::uint8_t>(raw.data(), n));
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

std::optional<std::uint16_t> handle_slot(std::string_view handle, std::uint8_t version, std::span<std::uint8_t> extra) {
  if (extra.size() > kMaxExtra || handle.size() != encoded_size(kHandleBytes + extra.size())) return std::nullopt;
  auto raw = crypto::base64url_decode(handle);
  if (!raw || raw->size() != kHandleBytes + extra.size() || static_cast<std::uint8_t>((*raw)[0]) != version)
    return std::nullopt;
  auto slot =
      static_cast<std::uint16_t>((static_cast<std::uint8_t>((*raw)[1]) << 8) | static_cast<std::uint8_t>((*raw)[2]));
  if (slot >= kSlotCount) return std::nullopt;
  for (std::size_t i = 0; i < extra.size(); ++i) extra[i] = static_cast<std::uint8_t>((*raw)[3 + i]);
  return slot;
}

}  // namespace latchkey::redis
