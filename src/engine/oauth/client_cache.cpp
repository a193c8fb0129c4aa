// See client_cache.hpp.
#include "engine/oauth/client_cache.hpp"

#include <atomic>

namespace latchkey::oauth {

namespace {
std::atomic<std::uint64_t> g_deletions{0};
}  // namespace

std::uint64_t ClientCache::deletions() noexcept { return g_deletions.load(std::memory_order_acquire); }

void ClientCache::deleted() noexcept { g_deletions.fetch_add(1, std::memory_order_acq_rel); }

const Client* ClientCache::get(std::string_view client_id, Clock::time_point now) {
  auto it = entries_.find(client_id);
  if (it == entries_.end()) return nullptr;
  if (now >= it->second.until || it->second.deletions != deletions()) {
    entries_.erase(it);
    return nullptr;
  }
  return &it->second.client;
}

void ClientCache::put(const Client& c, std::uint64_t deletions_before_read, Clock::time_point until,
                      Clock::time_point now) {
  if (deletions_before_read != deletions() || until <= now) return;
  if (entries_.size() >= kMaxEntries && !entries_.contains(c.client_id)) {
    std::erase_if(entries_, [&](const auto& kv) { return now >= kv.second.until; });
    if (entries_.size() >= kMaxEntries) entries_.clear();
  }
  entries_.insert_or_assign(c.client_id, Entry{c, until, deletions_before_read});
}

}  // namespace latchkey::oauth
