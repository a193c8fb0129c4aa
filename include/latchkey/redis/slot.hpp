// Redis Cluster hash slots. Every key that belongs to one user carries the same hash tag so
// per-user scripts touch one slot; tokens carry the slot number (14 bits of a hash of the
// user id: it reveals nothing usable about the user) so a token alone finds its keys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <span>
#include <string_view>

namespace latchkey::redis {

inline constexpr std::uint16_t kSlotCount = 16384;

// CRC16-CCITT (XMODEM) as Redis Cluster computes it, over the hash tag if the key has one.
std::uint16_t crc16(std::string_view data) noexcept;
std::uint16_t key_slot(std::string_view key) noexcept;

// A short hash tag, including braces, whose slot is `slot` (e.g. "{a3Z}"); precomputed once.
const std::string& slot_tag(std::uint16_t slot);

// An opaque bearer handle that finds its keys: base64url(version (1 byte) | slot (2 bytes, big
// endian) | `extra` | 32 CSPRNG bytes), 47 characters without extra bytes. Each kind of handle
// has its own version byte (key_schema::Handle), so a token of one kind is never even looked
// up as another. `extra` (at most 8 bytes) is public and bound to the handle only through its
// hash: a store keyed by SHA-256 of the handle finds nothing for an altered one.
std::string new_handle(std::uint8_t version, std::uint16_t slot, std::span<const std::uint8_t> extra = {});
// The slot of a well-formed handle of `version` with extra.size() extra bytes (exact length,
// canonical base64url, slot in range), which are copied into `extra`; nullopt for anything else.
std::optional<std::uint16_t> handle_slot(std::string_view handle, std::uint8_t version,
                                         std::span<std::uint8_t> extra = {});

}  // namespace latchkey::redis
