// Redis Cluster hash slots. Every key that belongs to one user carries the same hash tag so
// per-user scripts touch one slot; tokens carry the slot number (14 bits of a hash of the
// user id: it reveals nothing usable about the user) so a token alone finds its keys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace latchkey::redis {

inline constexpr std::uint16_t kSlotCount = 16384;

// CRC16-CCITT (XMODEM) as Redis Cluster computes it, over the hash tag if the key has one.
std::uint16_t crc16(std::string_view data) noexcept;
std::uint16_t key_slot(std::string_view key) noexcept;

// A short hash tag, including braces, whose slot is `slot` (e.g. "{a3Z}"); precomputed once.
const std::string& slot_tag(std::uint16_t slot);

// An opaque bearer handle that finds its keys: base64url(version (1 byte) | slot (2 bytes, big
// endian) | 32 CSPRNG bytes), 47 characters. Sessions use version 1, refresh tokens 2, so a
// token of one kind is never even looked up as the other.
std::string new_handle(std::uint8_t version, std::uint16_t slot);
// The slot of a well-formed handle of `version` (exact length, canonical base64url, slot in
// range); nullopt for anything else.
std::optional<std::uint16_t> handle_slot(std::string_view handle, std::uint8_t version);

}  // namespace latchkey::redis
