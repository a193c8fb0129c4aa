// Client records an I/O thread read recently, kept for `oauth_client_cache_ttl` seconds so a
// busy client's next authentications skip the Redis read (pure logic; unit-tested).
//
// A registered record never changes; only its deletion matters. Every deletion on this
// process moves one counter, and an entry read before the counter last moved is dropped the
// next time it is looked at: on the node that deleted a client, no thread authenticates it
// once the deletion returned. Other nodes learn of it when their entries expire.
#pragma once

#include "latchkey/oauth.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace latchkey::oauth {

class ClientCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxEntries = 1024;

  // Deletions so far on this process. Take it before reading a record, and pass it to put().
  static std::uint64_t deletions() noexcept;
  // After a deletion was sent (whatever its answer): drops every thread's entries.
  static void deleted() noexcept;

  // The record of `client_id` while fresh and read after the last deletion; else null.
  const Client* get(std::string_view client_id, Clock::time_point now);
  // Keeps `c` until `until`. At the size bound, expired entries go first, then all of them.
  void put(const Client& c, std::uint64_t deletions_before_read, Clock::time_point until, Clock::time_point now);
  std::size_t size() const noexcept { return entries_.size(); }
  void clear() noexcept { entries_.clear(); }

 private:
  struct Entry {
    Client client;
    Clock::time_point until;
    std::uint64_t deletions;
  };
  // Looked up by the presented id's view: no string built per request.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;
};

}  // namespace latchkey::oauth
